// kiln keys generate: a new v4 OpenPGP key pair for the reconciler (status
// commits, artifact signatures, apt Release files). Never overwrites a key.
import { chmod, mkdir, open, readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { UsageError } from '../../../schema/errors.ts';
import { generateKey } from '../../signing/signer.ts';
import { num, str, type Command } from '../command.ts';

/** "Kiln Reconciler" -> "kiln-reconciler": the file name stem. */
export function keySlug(name: string, email: string): string {
  const s = (name || email.split('@')[0]).toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '');
  return s || 'kiln-key';
}

async function readPassphrase(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--passphrase-file ${file}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
  }
  const pass = text.replace(/\r?\n$/, '');
  if (!pass) throw new UsageError(`--passphrase-file ${file}: the file is empty`);
  return pass;
}

/** Create `path` with `content`, failing if it exists (O_EXCL). */
async function writeNew(path: string, content: string, mode: number): Promise<void> {
  const fh = await open(path, 'wx', mode);
  try {
    await fh.writeFile(content);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await chmod(path, mode); // the umask may have narrowed or (for 0600) not mattered; be exact
}

const command: Command = {
  path: ['keys', 'generate'],
  summary: 'Generate an OpenPGP signing key pair (v4, ed25519) for the reconciler.',
  description:
    'Writes DIR/<slug>.pub.asc (public, 0644) and DIR/<slug>.key.asc (private, 0600), where <slug> comes\n' +
    'from --name. v4 keys, because gpg 2.2 (apt, git verify-commit) cannot read v6 keys. Refuses to\n' +
    'overwrite existing files.',
  options: {
    name: { type: 'string', valueName: 'NAME', description: 'User id name, e.g. "Kiln Reconciler".' },
    email: { type: 'string', valueName: 'EMAIL', description: 'User id email.' },
    out: { type: 'string', valueName: 'DIR', description: 'Directory to write the key files into.' },
    'passphrase-file': { type: 'string', valueName: 'FILE', description: 'Protect the private key with the passphrase in FILE.' },
    'expires-days': { type: 'string', valueName: 'DAYS', description: 'Key expiry in days (default: never).' },
  },
  examples: ['kiln keys generate --name "Kiln Reconciler" --email kiln@example.org --out ./keys'],
  async run(args) {
    const name = str(args, 'name');
    const email = str(args, 'email');
    const out = str(args, 'out');
    if (!name || !email || !out) throw new UsageError('kiln keys generate needs --name, --email and --out');
    if (!/^[^\s<>@]+@[^\s<>@]+$/.test(email)) throw new UsageError(`--email '${email}' is not an email address`);
    if (/[<>\n]/.test(name)) throw new UsageError(`--name must not contain '<', '>' or newlines`);
    const expiresDays = num(args, 'expires-days');
    if (expiresDays !== undefined && (!Number.isInteger(expiresDays) || expiresDays <= 0)) {
      throw new UsageError(`--expires-days takes a positive whole number of days, got ${expiresDays}`);
    }
    const pf = str(args, 'passphrase-file');
    const passphrase = pf ? await readPassphrase(pf) : undefined;

    const dir = resolve(out);
    const slug = keySlug(name, email);
    const publicKeyFile = join(dir, `${slug}.pub.asc`);
    const privateKeyFile = join(dir, `${slug}.key.asc`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    const key = await generateKey({ name, email, passphrase, expiresInDays: expiresDays });
    try {
      await writeNew(privateKeyFile, key.privateKeyArmored, 0o600);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${privateKeyFile} already exists: refusing to overwrite a key`);
      throw e;
    }
    try {
      await writeNew(publicKeyFile, key.publicKeyArmored, 0o644);
    } catch (e) {
      await rm(privateKeyFile, { force: true }); // leave nothing half-made
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${publicKeyFile} already exists: refusing to overwrite a key`);
      throw e;
    }
    const data = { fingerprint: key.fingerprint, userId: `${name} <${email}>`, publicKeyFile, privateKeyFile, protected: Boolean(passphrase) };
    return {
      data,
      human: [
        `Generated ${data.userId}`,
        `  fingerprint  ${key.fingerprint}`,
        `  public key   ${publicKeyFile}`,
        `  private key  ${privateKeyFile} (mode 0600${passphrase ? ', passphrase-protected' : ''})`,
      ].join('\n'),
    };
  },
};
export default command;
