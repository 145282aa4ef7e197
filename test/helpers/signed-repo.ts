// Metadata repos whose commits are signed by given openpgp.js keys, written
// with native git: the commit object is built by hand, signed as git would
// sign it (a detached signature over the object without its gpgsig header),
// stored with `git hash-object -w` and HEAD moved with `git update-ref`.
// `git verify-commit` accepts these commits (see test/helpers/gpg.ts).
import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateKey, loadSigner, type Signer } from '../../reconciler/signing/signer.ts';
import { git, GIT_ENV, writeFiles, type Files } from './git.ts';

export interface TestKey {
  name: string;
  fingerprint: string;
  publicKeyArmored: string;
  privateKeyArmored: string;
  signer: Signer;
}

/** A fresh v4 ed25519 key named `name` (email <name>@kiln.invalid). */
export async function makeTestKey(name: string, opts: { expiresInDays?: number; passphrase?: string } = {}): Promise<TestKey> {
  const k = await generateKey({ name, email: `${name}@kiln.invalid`, ...opts });
  const signer = await loadSigner(k.privateKeyArmored, opts.passphrase);
  return { name, fingerprint: k.fingerprint, publicKeyArmored: k.publicKeyArmored, privateKeyArmored: k.privateKeyArmored, signer };
}

/** kiln.yaml text trusting `keyPaths` (e.g. ['keys/alice.asc']). */
export function kilnYaml(keyPaths: string[], opts: { requireSignedCommits?: boolean; extra?: string } = {}): string {
  const lines = ['trust:', ...(keyPaths.length ? ['  keys:', ...keyPaths.map((p) => `    - ${p}`)] : ['  keys: []'])];
  if (opts.requireSignedCommits !== undefined) lines.push(`  requireSignedCommits: ${opts.requireSignedCommits}`);
  return lines.join('\n') + '\n' + (opts.extra ?? '');
}

/** kiln.yaml plus keys/<name>.asc for each key: the files of a repo trusting exactly `keys`. */
export function trustFiles(keys: TestKey[], opts: { requireSignedCommits?: boolean; extra?: string } = {}): Files {
  const files: Files = { 'kiln.yaml': kilnYaml(keys.map((k) => `keys/${k.name}.asc`), opts) };
  for (const k of keys) files[`keys/${k.name}.asc`] = k.publicKeyArmored;
  return files;
}

export interface SignedCommitOptions {
  /** Who signs; null or absent: an unsigned commit. */
  signer?: Pick<Signer, 'signDetached'> | null;
  message?: string;
  /** Paths to delete in this commit. */
  remove?: string[];
  /** Parents (default: HEAD, if any). Two or more make a merge commit. */
  parents?: string[];
  /** Commit time (default now). */
  date?: Date;
  /** Tree entries to force in after the work tree is staged: path -> [mode, oid] (e.g. a gitlink, mode 160000). */
  entries?: Record<string, [mode: string, oid: string]>;
}

/** Write `files`, delete `remove`, and commit the whole work tree on the current branch. */
export async function commitSigned(dir: string, files: Files, opts: SignedCommitOptions = {}): Promise<string> {
  await writeFiles(dir, files);
  if (opts.remove?.length) await git(dir, 'rm', '-q', '-r', '--', ...opts.remove);
  await git(dir, 'add', '-A');
  for (const [path, [mode, oid]] of Object.entries(opts.entries ?? {})) {
    await git(dir, 'rm', '-q', '-r', '--cached', '--ignore-unmatch', '--', path);
    await git(dir, 'update-index', '--add', '--cacheinfo', `${mode},${oid},${path}`);
  }
  const tree = await git(dir, 'write-tree');
  const parents = opts.parents ?? (await headCommit(dir));
  const when = `${Math.floor((opts.date ?? new Date()).getTime() / 1000)} +0000`;
  const who = (role: 'AUTHOR' | 'COMMITTER') => `${GIT_ENV[`GIT_${role}_NAME`]} <${GIT_ENV[`GIT_${role}_EMAIL`]}> ${when}`;
  const header = [`tree ${tree}`, ...parents.map((p) => `parent ${p}`), `author ${who('AUTHOR')}`, `committer ${who('COMMITTER')}`];
  const body = `\n${opts.message ?? 'change'}\n`;
  let object = header.join('\n') + '\n' + body;
  if (opts.signer) {
    const sig = (await opts.signer.signDetached(object)).replace(/\n+$/, '');
    object = [...header, `gpgsig ${sig.split('\n').join('\n ')}`].join('\n') + '\n' + body;
  }
  const oid = await hashObject(dir, object);
  await git(dir, 'update-ref', 'HEAD', oid);
  return oid;
}

/** A new repo (branch main) whose first commit holds `files`, signed as `opts` says. */
export async function makeSignedRepo(files: Files, opts: SignedCommitOptions & { dir?: string } = {}): Promise<{ dir: string; commit: string }> {
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), 'kiln-signed-repo-')));
  await git(dir, 'init', '-q', '-b', 'main');
  const commit = await commitSigned(dir, files, { message: 'initial', ...opts });
  return { dir, commit };
}

async function headCommit(dir: string): Promise<string[]> {
  try {
    return [await git(dir, 'rev-parse', '--verify', '-q', 'HEAD')];
  } catch {
    return [];
  }
}

function hashObject(dir: string, object: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn('git', ['hash-object', '-t', 'commit', '-w', '--stdin'], { cwd: dir, env: { ...process.env, ...GIT_ENV } });
    let out = '';
    let err = '';
    p.stdout.on('data', (d) => (out += d));
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(out.trim()) : reject(new Error(`git hash-object failed (${code}): ${err}`))));
    p.stdin.end(object);
  });
}
