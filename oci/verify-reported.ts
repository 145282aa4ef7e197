// Before the reconciler records an OCI build, it reads the image back from the
// candidate registry by the digest the agent reported: the registry must serve
// that manifest (the digest is recomputed from its bytes) with the same config
// and layers. A difference is an integrity failure: nothing is recorded as
// built, nothing can be promoted.
import { DigestMismatchError } from '../schema/errors.ts';
import type { OciImage } from '../schema/oci.ts';
import { parseRef, byDigest } from './image-ref.ts';
import { describeManifest, type RegistryClient } from './registry-client.ts';

/** Pure: how the registry's image differs from the reported one (empty: it does not). */
export function imageDifferences(reported: OciImage, served: OciImage): string[] {
  const out: string[] = [];
  if (served.manifestDigest !== reported.manifestDigest) out.push(`manifest ${served.manifestDigest}, reported ${reported.manifestDigest}`);
  if (served.configDigest !== reported.configDigest) out.push(`config ${served.configDigest}, reported ${reported.configDigest}`);
  const a = served.layers.map((l) => l.digest).join(',');
  const b = reported.layers.map((l) => l.digest).join(',');
  if (a !== b) out.push(`layers differ (${served.layers.length} served, ${reported.layers.length} reported)`);
  return out;
}

/** The image as the candidate registry serves it, which must be the reported one. Registry trouble throws RegistryError (transient). */
export async function verifyReportedImage(client: RegistryClient, reported: OciImage): Promise<OciImage> {
  return (await verifyReportedManifest(client, reported)).served;
}

/** verifyReportedImage with the served manifest's byte size, from the one read of it. */
export async function verifyReportedManifest(client: RegistryClient, reported: OciImage): Promise<{ served: OciImage; manifestSize: number }> {
  const repo = parseRef(reported.repository + ':x');
  const ref = byDigest(repo.registry, repo.repository, reported.manifestDigest);
  const m = await client.manifest(ref);
  const served = describeManifest(`${ref.registry}/${ref.repository}`, m.bytes.toString('utf8'), m.digest);
  const diff = imageDifferences(reported, served);
  if (diff.length) throw new DigestMismatchError(`${reported.repository}@${reported.manifestDigest}: the candidate registry serves a different image: ${diff.join('; ')}`, { reported, served }, { kind: 'terminal' });
  return { served, manifestSize: m.bytes.length };
}
