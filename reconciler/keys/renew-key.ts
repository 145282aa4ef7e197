// Extend a signing key's expiry without changing its fingerprint: issue new
// self-signatures (openpgp.reformatKey keeps the key packets, so the key's
// creation time and fingerprint stay) and MERGE them into the original key.
// Keeping the old self-signatures matters: openpgp.js checks a signature
// against the self-signature valid when it was made, so a key carrying only
// the new ones would no longer verify anything it signed before renewal.
import * as openpgp from 'openpgp';
import { SigningError } from '../../schema/errors.ts';
import { assertKeyCanSign } from './key-status.ts';

export interface RenewedKey {
  privateKeyArmored: string;
  publicKeyArmored: string;
  fingerprint: string;
  expires: Date;
}

export async function renewKey(
  armoredPrivateKey: string,
  passphrase: string | undefined,
  opts: { days: number; now: Date },
): Promise<RenewedKey> {
  if (!Number.isInteger(opts.days) || opts.days < 1 || opts.days > 36500) {
    throw new SigningError(`--days must be a whole number of days between 1 and 36500, got ${opts.days}`);
  }
  const original = await readPrivate(armoredPrivateKey);
  let key = await readPrivate(armoredPrivateKey);
  const fingerprint = key.getFingerprint().toUpperCase();
  // A revoked key must stay revoked: reformatKey would drop the revocation.
  if (await key.isRevoked(undefined, undefined, opts.now)) throw new SigningError(`key ${fingerprint} is revoked; it cannot be renewed`, { fingerprint });
  if (!key.isDecrypted()) {
    if (!passphrase) throw new SigningError(`key ${fingerprint} is passphrase-protected: give its passphrase`, { fingerprint });
    try {
      key = await openpgp.decryptKey({ privateKey: key, passphrase });
    } catch (cause) {
      throw new SigningError(`could not decrypt key ${fingerprint}: wrong passphrase?`, { fingerprint }, { cause });
    }
  }
  const expires = new Date(Math.floor(opts.now.getTime() / 1000) * 1000 + opts.days * 86400_000);
  const userIDs = key.users.flatMap((u) => (u.userID ? [{ name: u.userID.name, email: u.userID.email, comment: u.userID.comment }] : []));
  if (userIDs.length === 0) throw new SigningError(`key ${fingerprint} has no user id to re-certify`, { fingerprint });
  // The expiry subpacket counts seconds from the key's creation, not from now.
  const keyExpirationTime = Math.round((expires.getTime() - key.getCreationTime().getTime()) / 1000);
  const out = await openpgp.reformatKey({
    privateKey: key,
    userIDs,
    passphrase,
    keyExpirationTime,
    date: opts.now,
    format: 'object',
  });
  const renewed = await original.update(out.privateKey, opts.now);
  if (renewed.getFingerprint().toUpperCase() !== fingerprint) {
    throw new SigningError(`renewal changed the fingerprint of ${fingerprint}; refusing to write it`, { fingerprint });
  }
  await assertKeyCanSign(renewed, opts.now);
  return { privateKeyArmored: renewed.armor(), publicKeyArmored: renewed.toPublic().armor(), fingerprint, expires };
}

async function readPrivate(armored: string): Promise<openpgp.PrivateKey> {
  try {
    return await openpgp.readPrivateKey({ armoredKey: armored });
  } catch (cause) {
    throw new SigningError('the key to renew is not an armored OpenPGP private key', {}, { cause });
  }
}
