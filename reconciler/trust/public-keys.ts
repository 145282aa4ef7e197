// Armored public keys from the metadata repo's keys/ directory, parsed once
// per blob. A file that is not a usable public key is reported, never trusted.
import * as openpgp from 'openpgp';
import type { TrustedKeyInfo } from './policy.ts';

export interface TrustedKey extends TrustedKeyInfo {
  key: openpgp.PublicKey;
}

export type ParsedKeyFile = { ok: true; key: TrustedKey } | { ok: false; problem: string };

export async function parsePublicKeyFile(path: string, armored: string): Promise<ParsedKeyFile> {
  let key: openpgp.Key;
  try {
    key = await openpgp.readKey({ armoredKey: armored });
  } catch (e) {
    return { ok: false, problem: `${path} is not an armored OpenPGP public key: ${(e as Error).message}` };
  }
  if (key.isPrivate()) return { ok: false, problem: `${path} is a PRIVATE key: never commit private keys; it is not trusted` };
  if (key.keyPacket.version !== 4) return { ok: false, problem: `${path} is a v${key.keyPacket.version} key; only v4 keys are supported` };
  const fingerprint = key.getFingerprint().toUpperCase();
  return { ok: true, key: { fingerprint, userId: key.getUserIDs()[0] ?? fingerprint, path, key } };
}
