// Collect-time rpm header signatures: each releasable rpm of a verified rpm success is
// signed once by the reconciler's key, from the very bytes whose digest was checked;
// the signed copy goes into the artifact cache under its own digest before the status
// commit names it (build record `signed`: name, built and signed digests, key, header
// signature). Every distribution published with that key then serves this copy
// (publish/dnf places it, no signing); another key signs at publish as before. A crash
// before the status commit leaves only an unnamed cache file: the redelivered result
// is signed again and only that copy is recorded. A package without reserved space
// in its header is left to rpmsign at publish. The header facts rpm read from the
// built bytes (the guard, formats/rpm) are recorded with the copy (`rpm`): signing
// changes only the signature header, so a publish by the same key trusts them.
import pMap from 'p-map';
import { RpmFormatError } from '../../schema/errors.ts';
import type { BuildResult } from '../../schema/messages.ts';
import type { BuildRecord, RpmHeaderFacts } from '../../schema/status.ts';
import { rpmFormat } from '../formats/rpm/rpm-format.ts';
import { sha256Hex } from '../publish/apt/hashes.ts';
import { signRpmBytes } from '../publish/dnf/rpm-header-sign.ts';
import { armoredSignaturePacket, assertDigest, tagFor } from '../publish/dnf/sign-rpms.ts';
import type { Signer } from '../signing/signer.ts';
import { storeVerified } from './artifact-cache.ts';

export type HeaderSigned = NonNullable<BuildRecord['signed']>[number];
type Artifact = BuildResult['artifacts'][number];

/** rpms of one result signed at a time (each waits mostly on the signing threads). */
const CONCURRENCY = 8;

/** The header-signed copies of a verified rpm success's releasable rpms (none for any other result); `headers`: what rpm read of each built rpm, by sha256. */
export async function signRpmHeaders(result: BuildResult, read: (a: Artifact) => Promise<Buffer>, signer: Signer, cacheDir: string, headers?: ReadonlyMap<string, RpmHeaderFacts>): Promise<HeaderSigned[]> {
  if (result.outcome !== 'succeeded' || result.inputs.recipe.format !== rpmFormat.name) return [];
  const tag = await tagFor(signer);
  const signed = await pMap(
    result.artifacts.filter((a) => rpmFormat.isReleasable(a.name)),
    async (a): Promise<HeaderSigned | undefined> => {
      const bytes = await read(a);
      // Only the recorded artifact is ever signed, whoever read its bytes.
      assertDigest(a, bytes);
      const copy = await signRpmBytes(bytes, signer, tag).catch((e: unknown) => {
        throw e instanceof RpmFormatError ? new RpmFormatError(`${a.name}: ${e.message}`, { artifact: a.name }, { cause: e }) : e;
      });
      if (!copy) return undefined;
      const sha256 = sha256Hex(copy.rpm);
      await storeVerified(cacheDir, sha256, copy.rpm);
      const rpm = headers?.get(a.sha256);
      return { name: a.name, built: a.sha256, sha256, size: copy.rpm.length, signingKey: signer.fingerprint, signature: armoredSignaturePacket(copy.signature), ...(rpm ? { rpm } : {}) };
    },
    { concurrency: CONCURRENCY },
  );
  return signed.filter((s): s is HeaderSigned => s !== undefined);
}
