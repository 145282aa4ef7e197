// Who signed a git commit: verify its gpgsig (a detached OpenPGP signature
// over the commit object without that header) against the keys we know.
import * as openpgp from 'openpgp';
import type { SignatureCheck } from './policy.ts';
import type { TrustedKey } from './public-keys.ts';

export async function checkCommitSignature(payload: string, gpgsig: string | undefined, candidates: TrustedKey[]): Promise<SignatureCheck> {
  if (!gpgsig) return { status: 'unsigned' };
  if (!gpgsig.includes('BEGIN PGP SIGNATURE')) return { status: 'bad', reason: 'the commit signature is not an OpenPGP signature (SSH or X.509 signatures are not supported)' };
  let signature: openpgp.Signature;
  try {
    signature = await openpgp.readSignature({ armoredSignature: gpgsig });
  } catch (e) {
    return { status: 'bad', reason: `malformed signature: ${(e as Error).message}` };
  }
  const keyIds = signature.getSigningKeyIDs();
  const issuer = candidates.find((c) => keyIds.some((id) => c.key.getKeys(id).length > 0));
  if (!issuer) return { status: 'unknown-key', keyId: keyIds[0]?.toHex() ?? 'unknown' };
  try {
    const message = await openpgp.createMessage({ binary: new TextEncoder().encode(payload) });
    const result = await openpgp.verify({ message, signature, verificationKeys: issuer.key, expectSigned: true, format: 'binary' });
    await result.signatures[0].verified;
  } catch (e) {
    return { status: 'bad', fingerprint: issuer.fingerprint, reason: (e as Error).message };
  }
  return { status: 'valid', fingerprint: issuer.fingerprint, userId: issuer.userId };
}
