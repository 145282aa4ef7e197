// The reconciler's signing key, from a file or from an armored string the CLI
// took from the environment. Refuses keys that cannot sign now, so a pass
// fails up front instead of publishing with an expired key.
import { readFile } from 'node:fs/promises';
import * as openpgp from 'openpgp';
import type { Logger } from 'pino';
import { SigningError } from '../../schema/errors.ts';
import { loadSigner, type Signer } from '../signing/signer.ts';
import { assertKeyCanSign } from './key-status.ts';

export interface SigningKeySource {
  /** Path of an armored private key. */
  keyFile?: string;
  /** The armored private key itself (e.g. from KILN_SIGNING_KEY). */
  keyArmored?: string;
  passphrase?: string;
}

export async function readArmoredKey(source: SigningKeySource): Promise<string> {
  if (source.keyArmored) return source.keyArmored;
  if (!source.keyFile) {
    throw new SigningError('no signing key: pass --signing-key FILE or set KILN_SIGNING_KEY_FILE or KILN_SIGNING_KEY');
  }
  try {
    return await readFile(source.keyFile, 'utf8');
  } catch (cause) {
    throw new SigningError(`cannot read the signing key ${source.keyFile}: ${(cause as NodeJS.ErrnoException).code ?? cause}`, { file: source.keyFile }, { cause });
  }
}

export async function loadReconcilerSigner(source: SigningKeySource, now: Date = new Date(), log?: Logger): Promise<Signer> {
  const armored = await readArmoredKey(source);
  const where = source.keyFile ?? 'the key given in the environment';
  let key: openpgp.PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: armored });
  } catch (cause) {
    throw new SigningError(`${where} is not an armored OpenPGP private key`, { file: source.keyFile }, { cause });
  }
  await assertKeyCanSign(key, now);
  return loadSigner(armored, source.passphrase, { log });
}
