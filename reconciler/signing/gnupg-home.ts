// For native tools that sign only through GnuPG (rpmsign): a throwaway GnuPG
// home (0700) holding the signing key, removed with its gpg-agent afterwards.
// The key never leaves the signing module otherwise; the home lives only as
// long as the callback.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { SigningError } from '../../schema/errors.ts';

const run = promisify(execFile);

export async function withGnupgHome<T>(armoredSecretKey: string, fn: (home: string) => Promise<T>): Promise<T> {
  const home = await mkdtemp(join(tmpdir(), 'kiln-gnupg-'));
  const env = { ...process.env, GNUPGHOME: home, LC_ALL: 'C' };
  try {
    const keyFile = join(home, 'key.asc');
    await writeFile(keyFile, armoredSecretKey, { mode: 0o600 });
    await run('gpg', ['--batch', '--no-tty', '--import', keyFile], { env }).catch((cause: { stderr?: string }) => {
      throw new SigningError(`gpg could not import the signing key: ${cause.stderr ?? cause}`, {}, { cause });
    });
    await rm(keyFile);
    return await fn(home);
  } finally {
    await run('gpgconf', ['--kill', 'all'], { env }).catch(() => undefined);
    await rm(home, { recursive: true, force: true });
  }
}
