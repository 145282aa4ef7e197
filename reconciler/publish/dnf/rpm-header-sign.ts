// rpm header signatures made in-process: what `rpmsign --addsign` does for a
// package with reserved space (every rpm built by rpm >= 4.14), without a gpg
// process per file (rpmsign starts gpg once per package: 2,000 rpms took 50 s).
// The layout (which bytes are signed, where the packet goes, the reserved space
// shrinking so the file keeps its size) is rpm/signature-header.js, shared with
// the sign threads that sign rpms at collect (reconciler/signing/rpm-copies.js).
// Works on the file's bytes: the publisher reads each rpm once. A package with no
// room (or an unexpected layout) is left to rpmsign. Tests verify the result with
// `rpmkeys --checksig` and real dnf with gpgcheck=1.
import { RpmFormatError } from '../../../schema/errors.ts';
import { parseRpm, RPM_FORMAT, signedRpm } from '../../../rpm/signature-header.js';
import type { Signer } from '../../signing/signer.ts';

/** The binary signature packet over `header` by the signer's key (a v4 signature of a binary document), made in the signer's worker threads. */
export const headerSignature = async (signer: Signer, header: Uint8Array): Promise<Buffer> => Buffer.from(await signer.signBinary(header));

/** rpm/signature-header.js's errors as RpmFormatError. */
function parsed(rpm: Buffer): ReturnType<typeof parseRpm> {
  try {
    return parseRpm(rpm);
  } catch (e) {
    if ((e as { code?: string }).code === RPM_FORMAT) throw new RpmFormatError((e as Error).message);
    throw e;
  }
}

/**
 * An rpm (its bytes) with its header signed by `signer` (an earlier header signature replaced), and
 * the signature packet; undefined when the package has no reserved space for it (rpmsign then).
 */
export async function signRpmBytes(rpm: Buffer, signer: Signer, keyAlgorithm: 'rsa' | 'dsa'): Promise<{ rpm: Buffer; signature: Buffer } | undefined> {
  const layout = parsed(rpm);
  if (!layout) return undefined;
  const signature = await headerSignature(signer, rpm.subarray(layout.mainStart, layout.mainEnd));
  const out = signedRpm(rpm, layout, keyAlgorithm, signature);
  return out && { rpm: out, signature };
}
