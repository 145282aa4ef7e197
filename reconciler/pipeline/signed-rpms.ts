// Collect-time rpm header signatures: each releasable rpm of a verified rpm success is
// signed once by the reconciler's key, from the very bytes whose digest was checked;
// the signed copy goes into the artifact cache under its own digest before the status
// commit names it (build record `signed`: name, built and signed digests, key, header
// signature). The signing threads check, sign, hash and write each copy themselves
// (Signer.signRpms, reconciler/signing/rpm-copies.js): the signed bytes never come back
// to this thread, only their digest, size and signature. Every distribution published
// with that key then serves this copy (publish/dnf places it, no signing); another key
// signs at publish as before. A crash before the status commit leaves only an unnamed
// cache file: the redelivered result is signed again and only that copy is recorded. A
// package without reserved space in its header is left to rpmsign at publish. The
// header facts rpm read from the built bytes (the guard, formats/rpm) are recorded with
// the copy (`rpm`): signing changes only the signature header, so a publish by the same
// key trusts them.
import pMap from 'p-map';
import type { BuildResult } from '../../schema/messages.ts';
import type { BuildRecord, RpmHeaderFacts } from '../../schema/status.ts';
import { rpmFormat } from '../formats/rpm/rpm-format.ts';
import { tagFor } from '../publish/dnf/sign-rpms.ts';
import type { Signer } from '../signing/signer.ts';
import { RPMS_PER_MESSAGE } from '../signing/sign-worker.ts';

export type HeaderSigned = NonNullable<BuildRecord['signed']>[number];
type Artifact = BuildResult['artifacts'][number];

/** rpms of one batch read at a time (collect has most in memory already; the rest come from the cache). */
const READ_CONCURRENCY = 8;
/** Batches in flight: each is read, handed to a signing thread (a copy), signed and written; then its bytes go. */
const BATCHES_IN_FLIGHT = 2;
/** A batch: one message to a sign thread, and, unless one rpm alone is larger, at most this many bytes. */
export const BATCH = { rpms: RPMS_PER_MESSAGE, bytes: 64 * 2 ** 20 };

/**
 * The artifacts in batches, in order, so that a result of many or large rpms is never all in
 * memory at once (rpms over collect's in-memory limit are read back from the cache).
 */
export function rpmBatches<T extends { size: number }>(artifacts: readonly T[], limit = BATCH): T[][] {
  const batches: T[][] = [];
  let bytes = 0;
  for (const a of artifacts) {
    const last = batches.at(-1);
    if (last && last.length < limit.rpms && bytes + a.size <= limit.bytes) {
      last.push(a);
      bytes += a.size;
    } else {
      batches.push([a]);
      bytes = a.size;
    }
  }
  return batches;
}

/** The header-signed copies of a verified rpm success's releasable rpms (none for any other result); `headers`: what rpm read of each built rpm, by sha256. */
export async function signRpmHeaders(result: BuildResult, read: (a: Artifact) => Promise<Buffer>, signer: Signer, cacheDir: string, headers?: ReadonlyMap<string, RpmHeaderFacts>): Promise<HeaderSigned[]> {
  if (result.outcome !== 'succeeded' || result.inputs.recipe.format !== rpmFormat.name) return [];
  const releasable = result.artifacts.filter((a) => rpmFormat.isReleasable(a.name));
  if (releasable.length === 0) return [];
  const keyAlgorithm = await tagFor(signer);
  const signBatch = async (batch: Artifact[]) => {
    const rpms = await pMap(batch, async (a) => ({ name: a.name, sha256: a.sha256, size: a.size, bytes: await read(a) }), { concurrency: READ_CONCURRENCY });
    // Only the recorded artifact is ever signed, whoever read its bytes: the thread checks digest and size.
    return signer.signRpms({ cacheDir, keyAlgorithm }, rpms);
  };
  const copies = (await pMap(rpmBatches(releasable), signBatch, { concurrency: BATCHES_IN_FLIGHT })).flat();
  return releasable.flatMap((a, i): HeaderSigned[] => {
    const copy = copies[i];
    if (!copy) return [];
    const rpm = headers?.get(a.sha256);
    return [{ name: a.name, built: a.sha256, sha256: copy.sha256, size: copy.size, signingKey: signer.fingerprint, signature: copy.signature, ...(rpm ? { rpm } : {}) }];
  });
}
