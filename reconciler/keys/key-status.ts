// Whether an OpenPGP key can sign right now: v4, not revoked, not expired.
// Shared by signing-key loading and renewal so both refuse the same keys.
import * as openpgp from 'openpgp';
import { SigningError } from '../../schema/errors.ts';

export interface KeyStatus {
  fingerprint: string;
  userId: string;
  /** null: the key never expires. */
  expires: Date | null;
}

/** Describe `key` at `now`, or throw a SigningError saying why it cannot sign. */
export async function assertKeyCanSign(key: openpgp.PublicKey, now: Date): Promise<KeyStatus> {
  const fingerprint = key.getFingerprint().toUpperCase();
  if (key.keyPacket.version !== 4) {
    throw new SigningError(`key ${fingerprint} is a v${key.keyPacket.version} key: gpg 2.2 and apt only read v4 keys`, { fingerprint });
  }
  if (await key.isRevoked(undefined, undefined, now)) {
    throw new SigningError(`key ${fingerprint} is revoked`, { fingerprint });
  }
  const expires = await keyExpiry(key);
  if (expires && expires.getTime() <= now.getTime()) {
    throw new SigningError(`key ${fingerprint} expired on ${expires.toISOString()}: renew it with 'kiln keys renew'`, {
      fingerprint,
      expires: expires.toISOString(),
    });
  }
  try {
    await key.getSigningKey(undefined, now);
  } catch (cause) {
    throw new SigningError(`key ${fingerprint} has no usable signing key: ${(cause as Error).message}`, { fingerprint }, { cause });
  }
  return { fingerprint, userId: key.getUserIDs()[0] ?? fingerprint, expires };
}

/** Expiry of the primary key as its latest self-signature says (null: never). */
export async function keyExpiry(key: openpgp.PublicKey): Promise<Date | null> {
  const t = await key.getExpirationTime();
  return t instanceof Date ? t : null;
}
