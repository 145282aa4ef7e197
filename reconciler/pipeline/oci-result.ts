// An OCI build's release unit: before a succeeded oci result is recorded, the
// image it reports is read back from the candidate registry (verify-reported);
// the image as served becomes the build's one artifact, image.json (canonical
// JSON, content-addressed in the object store and the local cache like any
// artifact), which the registry release target reads. So a recorded oci build
// always names an image the reconciler saw, and it is signed and published by
// the same path as a .deb.
import { createHash } from 'node:crypto';
import type { ObjectStore } from '@nats-io/obj';
import canonicalize from 'canonicalize';
import { DigestMismatchError, ImageNotFoundError, isKilnError, RegistryError } from '../../schema/errors.ts';
import type { BuildResult } from '../../schema/messages.ts';
import { OBJECTS } from '../../schema/nats.ts';
import type { OciImage } from '../../schema/oci.ts';
import type { RegistryClient } from '../../oci/registry-client.ts';
import { verifyReportedManifest } from '../../oci/verify-reported.ts';
import { byDigest, parseRef } from '../../oci/image-ref.ts';
import { platformProblem } from '../../oci/platform.ts';
import { storeVerified } from './artifact-cache.ts';
import { asFailedResult } from './collect.ts';

export const IMAGE_ARTIFACT = 'image.json';

/** Pure: the bytes of image.json for an image as served (repository as reported: where it was pushed). */
export function imageArtifactBytes(served: OciImage, reported: OciImage): Uint8Array {
  return Buffer.from(`${canonicalize({ ...served, repository: reported.repository })}\n`);
}

async function storeArtifact(os: ObjectStore, cacheDir: string, bytes: Uint8Array): Promise<{ name: string; sha256: string; size: number }> {
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const name = OBJECTS.artifact(sha256);
  const info = await os.info(name);
  if (!info || info.deleted) await os.putBlob({ name, description: IMAGE_ARTIFACT }, bytes);
  // Temp file and rename: a served file may be a hard link to the entry's inode (never written in place).
  await storeVerified(cacheDir, sha256, bytes);
  return { name: IMAGE_ARTIFACT, sha256, size: bytes.length };
}

/**
 * Pure: why a reported image is not where this build must have pushed it, i.e. not
 * <candidate registry>/<recipe's repository> (undefined: it is). An agent's word on where the
 * image lives is not trusted: promotion later copies from there.
 */
export function reportedRepositoryProblem(reported: OciImage, recipe: BuildResult['inputs']['recipe'], candidate: string | undefined): string | undefined {
  if (candidate === undefined) return `the reconciler knows no candidate registry (--candidate-registry), so it cannot accept an image reported in ${reported.repository}`;
  const expected = recipe.oci ? `${candidate}/${recipe.oci.repository}` : undefined;
  if (expected === undefined) return `an image was reported for a ${recipe.format} build`;
  return reported.repository === expected ? undefined : `the image was reported in ${reported.repository}, but this build pushes to ${expected}`;
}

/** Pure: the reported image by its digest. */
function imageAt(image: OciImage) {
  const repo = parseRef(`${image.repository}:x`);
  return { ...byDigest(repo.registry, repo.repository, image.manifestDigest), digest: image.manifestDigest };
}

/** Pure: an error that leaves a result unjudged (the reconciler's registry access, not the build). */
export const isUnjudged = (e: unknown): e is RegistryError => e instanceof RegistryError && (e.kind === 'usage' || e.kind === 'transient');

/**
 * The result as it may be recorded: a succeeded oci result gains image.json; an image reported
 * outside the build's candidate repository, or one the candidate registry does not serve as
 * reported, or whose config is not of the build's architecture's platform, is an integrity failure. A candidate registry that cannot be reached, or that refuses
 * the reconciler's own credentials, says nothing about the build: that RegistryError (kind
 * transient or usage, isUnjudged) is thrown and the result stays unrecorded (collect-step naks it),
 * so a misconfigured reconciler never burns a build's attempts.
 */
export async function withVerifiedImage(result: BuildResult, deps: { client: RegistryClient; objectStore: ObjectStore; cacheDir: string; candidate: string | undefined }): Promise<BuildResult> {
  const reported = result.image;
  if (result.outcome !== 'succeeded' || !reported) return result;
  const misplaced = reportedRepositoryProblem(reported, result.inputs.recipe, deps.candidate);
  if (misplaced) return asFailedResult(result, 'integrity', 'image not in the candidate repository', [misplaced]);
  let served: OciImage;
  let wrongPlatform: string | undefined;
  try {
    const verified = await verifyReportedManifest(deps.client, reported);
    // Every image, single-arch too: nothing of another machine is recorded as this arch's build.
    const config = await deps.client.configPlatform(imageAt(reported), verified.served.configDigest);
    wrongPlatform = platformProblem(result.inputs.arch, config);
    // Recorded in image.json: an index of this version is assembled without reading the registry again.
    served = { ...verified.served, manifestSize: verified.manifestSize, platform: { os: config.os ?? '', architecture: config.architecture ?? '', ...(config.variant ? { variant: config.variant } : {}) } };
  } catch (e) {
    if (e instanceof DigestMismatchError || e instanceof ImageNotFoundError) return asFailedResult(result, 'integrity', 'image does not verify', [e.message]);
    if (isUnjudged(e)) throw e;
    if (isKilnError(e)) return asFailedResult(result, 'infra', 'candidate registry', [e.message]);
    throw e;
  }
  if (wrongPlatform) return asFailedResult(result, 'integrity', 'image of another platform', [wrongPlatform]);
  const artifact = await storeArtifact(deps.objectStore, deps.cacheDir, imageArtifactBytes(served, reported));
  return { ...result, artifacts: [...result.artifacts.filter((a) => a.name !== IMAGE_ARTIFACT), artifact] };
}
