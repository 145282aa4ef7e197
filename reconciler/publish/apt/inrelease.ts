// InRelease and Release.gpg for a Release text.
import type { Signer } from '../../signing/signer.ts';

export interface SignedRelease {
  inRelease: string;
  releaseGpg: string;
}

export async function signRelease(signer: Signer, text: string): Promise<SignedRelease> {
  const [cleartext, releaseGpg] = await Promise.all([signer.signCleartext(text), signer.signDetached(Buffer.from(text))]);
  // openpgp.js emits the cleartext body with CRLF line ends. The signature is
  // over canonical (CRLF) text either way, so LF keeps it valid and makes
  // InRelease byte-for-byte like Debian's (and its body equal to Release).
  return { inRelease: cleartext.replace(/\r\n/g, '\n'), releaseGpg };
}
