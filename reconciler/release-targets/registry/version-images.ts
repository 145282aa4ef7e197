// What each released version's tags point at. A version built for one architecture:
// its build's image, as before. A version built for several: one image index
// assembled from the verified per-architecture images (oci/image-index.ts). It is
// put into the candidate repository that holds them (under `index-<digest hex>`,
// its digest checked as the registry stores it) only when a release must copy it
// (putIndexFor, called by promote before that copy), not on every pass. The index
// is derived again on every release from the same records, byte for byte: a
// release killed after the put finds the same digest next time (the put is
// idempotent), so nothing is duplicated.
import { readFile } from 'node:fs/promises';
import { isKilnError, PublishInputError } from '../../../schema/errors.ts';
import type { ImageIndexRecord, OciImage } from '../../../schema/oci.ts';
import { validators } from '../../../schema/validate.ts';
import { assembleIndex, indexBuildKey, type AssembledIndex } from '../../../oci/image-index.ts';
import { byDigest, parseRef } from '../../../oci/image-ref.ts';
import { platformProblem } from '../../../oci/platform.ts';
import type { RegistryClient } from '../../../oci/registry-client.ts';
import type { ReleaseUnit } from '../target.ts';

export async function imageOf(unit: ReleaseUnit): Promise<OciImage> {
  const file = unit.files.find((f) => f.name === 'image.json');
  if (!file) throw new PublishInputError(`${unit.name} ${unit.version}: no image.json among its artifacts`, { package: unit.name, version: unit.version });
  const v: unknown = JSON.parse(await readFile(file.path, 'utf8'));
  if (!validators.ociImage(v)) throw new PublishInputError(`${unit.name} ${unit.version}: image.json is not an OCI image description`, { package: unit.name, version: unit.version });
  return v;
}

/** One released version: the digest its tags name, the repository it is copied from, the index when there is one. */
export interface VersionImage {
  name: string;
  version: string;
  /** `{build}` in tag templates: the build key of a single-arch version; of an index, indexBuildKey over every architecture's. */
  build?: string;
  tagTemplates?: string[];
  digest: string;
  /** host/repository in the candidate registry. */
  from: string;
  index?: ImageIndexRecord;
  /** The index's bytes (put into `from` only when a release copies it: putIndexFor). */
  assembled?: AssembledIndex;
}

/** The units of each name and version (in the order given), each group in architecture order. */
function byVersion(units: ReleaseUnit[]): ReleaseUnit[][] {
  const groups = new Map<string, ReleaseUnit[]>();
  for (const u of units) {
    const k = `${u.name}\0${u.version}`;
    groups.set(k, [...(groups.get(k) ?? []), u]);
  }
  return [...groups.values()].map((g) => g.sort((a, b) => (a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : 0)));
}

/** The tag in the candidate repository that keeps an index (the registry keeps what a tag names). */
export const indexTag = (digest: string) => `index-${digest.slice('sha256:'.length)}`;

async function indexOf(client: RegistryClient, units: ReleaseUnit[], images: OciImage[]): Promise<VersionImage> {
  const [first] = units;
  const what = `${first.name} ${first.version}`;
  const repository = images[0].repository;
  const elsewhere = images.find((i) => i.repository !== repository);
  if (elsewhere) throw new PublishInputError(`${what}: its architectures were pushed to different repositories (${repository}, ${elsewhere.repository})`, { package: first.name, version: first.version });
  const repo = parseRef(`${repository}:x`);
  // The index names each manifest's exact size, and each config must say the platform its entry
  // will claim: as recorded at collect (image.json, verified then), else read by digest (an
  // image.json from before they were recorded).
  const entries = await Promise.all(
    units.map(async (u, i) => {
      const image = images[i];
      const at = { ...byDigest(repo.registry, repo.repository, image.manifestDigest), digest: image.manifestDigest };
      const size = image.manifestSize ?? (await client.manifest(at)).bytes.length;
      const wrong = platformProblem(u.arch, image.platform ?? (await client.imagePlatform(at)));
      if (wrong) throw new PublishInputError(`${what}: ${wrong}`, { package: first.name, version: first.version });
      return { arch: u.arch, digest: image.manifestDigest, mediaType: image.mediaType, size };
    }),
  );
  const index = assembleIndex(entries);
  const manifests = Object.fromEntries(entries.map((e) => [e.arch, e.digest]).sort(([a], [b]) => (a < b ? -1 : 1)));
  return {
    name: first.name,
    version: first.version,
    ...(units.every((u) => u.build) ? { build: indexBuildKey(Object.fromEntries(units.map((u) => [u.arch, u.build!]))) } : {}),
    ...(first.tagTemplates ? { tagTemplates: first.tagTemplates } : {}),
    digest: index.digest,
    from: repository,
    assembled: index,
    index: { package: first.name, version: first.version, repository, digest: index.digest, mediaType: index.mediaType, manifests },
  };
}

/** Each version's image (units of one version share it), in the order of first appearance. */
export async function versionImages(client: RegistryClient, units: ReleaseUnit[]): Promise<VersionImage[]> {
  const out: VersionImage[] = [];
  for (const group of byVersion(units)) out.push(await attributed(group[0], () => versionImage(client, group)));
  return out;
}

async function versionImage(client: RegistryClient, group: ReleaseUnit[]): Promise<VersionImage> {
  const images = await Promise.all(group.map(imageOf));
  if (group.length > 1) return indexOf(client, group, images);
  const [u] = group;
  return { name: u.name, version: u.version, ...(u.build ? { build: u.build } : {}), ...(u.tagTemplates ? { tagTemplates: u.tagTemplates } : {}), digest: images[0].manifestDigest, from: images[0].repository };
}

/**
 * A version's terminal errors (bad bytes, an image gone, a wrong platform) name its package and
 * version, so the publish step rejects that version and publishes the rest. Refused credentials
 * (usage) and a registry that is down (transient) say nothing about the version: they fail the
 * distribution as a whole, and it is tried again once they are fixed, as collect leaves them unjudged.
 */
async function attributed<T>(unit: { name: string; version: string }, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (isKilnError(e) && e.kind === 'terminal') Object.assign(e.data, { package: unit.name, version: unit.version });
    throw e;
  }
}

/**
 * Put into the candidate repository each index a release is about to copy from there
 * (`copy`: its repository's source and digest); single images and digests not derived
 * here are left alone.
 */
export function putIndexFor(client: RegistryClient, images: VersionImage[]): (copy: { from?: string; digest: string }) => Promise<void> {
  const byDigestFrom = new Map(images.flatMap((v) => (v.assembled ? [[`${v.from}@${v.digest}`, v] as const] : [])));
  return async (copy) => {
    const v = copy.from ? byDigestFrom.get(`${copy.from}@${copy.digest}`) : undefined;
    if (!v?.assembled) return;
    const repo = parseRef(`${v.from}:x`);
    await attributed(v, () => client.putIndex(repo.registry, repo.repository, indexTag(v.digest), v.assembled!));
  };
}
