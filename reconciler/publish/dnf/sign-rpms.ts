// rpm header signatures by the release key: `rpmsign --resign` (any earlier
// signature replaced) in a throwaway GnuPG home holding the key. Debian's rpm
// macros point %__gpg at /usr/bin/gpg2, which Debian does not ship: override it.
// One rpmsign call signs many files (a publish of thousands stays one process).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as openpgp from 'openpgp';
import { SigningError } from '../../../schema/errors.ts';
import type { Signer } from '../../signing/signer.ts';

const run = promisify(execFile);
/** Files per rpmsign call: keeps the command line well under ARG_MAX. */
const BATCH = 500;

export function rpmsignArgs(fingerprint: string, files: string[]): string[] {
  return ['--resign', '--define', '__gpg /usr/bin/gpg', '--define', `_gpg_name ${fingerprint}`, ...files];
}

export async function signRpms(signer: Signer, files: string[]): Promise<void> {
  if (files.length === 0) return;
  await signer.withGnupgHome(async (home) => {
    for (let i = 0; i < files.length; i += BATCH) {
      await run('rpmsign', rpmsignArgs(signer.fingerprint, files.slice(i, i + BATCH)), {
        env: { ...process.env, GNUPGHOME: home, LC_ALL: 'C' },
        maxBuffer: 16 * 1024 * 1024,
      }).catch((cause: { stderr?: string; message?: string }) => {
        throw new SigningError(`rpmsign failed: ${(cause.stderr || cause.message || '').trim().split('\n').slice(-3).join(' ')}`, {}, { cause });
      });
    }
  });
}

/** An rpm header's signature packet (hex, as rpm prints it), ASCII-armored as OpenPGP tools read it. */
export async function armoredHeaderSignature(hex: string): Promise<string> {
  return (await openpgp.readSignature({ binarySignature: Buffer.from(hex, 'hex') })).armor();
}

/** The key ID rpm shows for a fingerprint (its last 16 hex digits). */
export const keyIdOf = (fingerprint: string) => fingerprint.slice(-16).toUpperCase();
