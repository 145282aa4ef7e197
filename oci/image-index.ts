// A multi-architecture image: an image index (a Docker manifest list when every
// entry is a Docker manifest, else an OCI image index) naming each architecture's
// manifest by digest with its platform. Pure, and deterministic: the same entries
// give the same bytes (canonical JSON, entries in architecture order), so a pass
// that crashed after putting an index re-derives the same digest the next time.
import canonicalize from 'canonicalize';
import { RegistryError } from '../schema/errors.ts';
import { DIGEST } from './image-ref.ts';
import { configMatches, configPlatformString, ociPlatform, type OciPlatform } from './platform.ts';
import { sha256Digest } from './registry-client.ts';

export const DOCKER_MANIFEST = 'application/vnd.docker.distribution.manifest.v2+json';
export const DOCKER_MANIFEST_LIST = 'application/vnd.docker.distribution.manifest.list.v2+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
const INDEX_TYPES = new Set([DOCKER_MANIFEST_LIST, OCI_INDEX]);

/** One architecture's image: its manifest as the registry serves it. */
export interface IndexEntry {
  arch: string;
  digest: string;
  mediaType: string;
  /** Bytes of the manifest. */
  size: number;
}

export interface AssembledIndex {
  bytes: Buffer;
  digest: string;
  mediaType: string;
}

/** The index of `entries` (one per architecture; every architecture needs an OCI platform). */
export function assembleIndex(entries: IndexEntry[]): AssembledIndex {
  if (entries.length === 0) throw new RegistryError('an image index needs at least one image', {}, { kind: 'terminal' });
  const sorted = [...entries].sort((a, b) => (a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : 0));
  const manifests = sorted.map((e, i) => {
    const platform = ociPlatform(e.arch);
    if (!platform) throw new RegistryError(`architecture ${e.arch} has no OCI platform`, { arch: e.arch }, { kind: 'terminal' });
    if (i > 0 && sorted[i - 1].arch === e.arch) throw new RegistryError(`two images for architecture ${e.arch}`, { arch: e.arch }, { kind: 'terminal' });
    if (!DIGEST.test(e.digest)) throw new RegistryError(`${e.arch}: ${e.digest} is not a sha256 digest`, { arch: e.arch }, { kind: 'terminal' });
    return { mediaType: e.mediaType, size: e.size, digest: e.digest, platform };
  });
  const mediaType = sorted.every((e) => e.mediaType === DOCKER_MANIFEST) ? DOCKER_MANIFEST_LIST : OCI_INDEX;
  const bytes = Buffer.from(canonicalize({ schemaVersion: 2, mediaType, manifests }) as string, 'utf8');
  return { bytes, digest: sha256Digest(bytes), mediaType };
}

/**
 * `{build}` of a version built for several architectures: sha256 hex over the canonical
 * `{arch: build key}` map, so a rebuild of any architecture (not only the first) gives a new tag.
 */
export function indexBuildKey(builds: Readonly<Record<string, string>>): string {
  return sha256Digest(Buffer.from(canonicalize(builds) as string, 'utf8')).slice('sha256:'.length);
}

export interface IndexManifest {
  digest: string;
  mediaType?: string;
  platform?: Partial<OciPlatform> & { os?: string; architecture?: string };
}

/** The entries of an index or manifest list; undefined when `bytes` is a single image's manifest. */
export function indexManifests(bytes: Uint8Array): IndexManifest[] | undefined {
  let m: { mediaType?: string; manifests?: unknown };
  try {
    m = JSON.parse(Buffer.from(bytes).toString('utf8')) as typeof m;
  } catch {
    return undefined;
  }
  const isIndex = (m.mediaType !== undefined && INDEX_TYPES.has(m.mediaType)) || (m.mediaType === undefined && Array.isArray(m.manifests));
  return isIndex && Array.isArray(m.manifests) ? (m.manifests as IndexManifest[]) : undefined;
}

/** The digest of the index's entry for `platform`, or undefined when it has none. */
export function entryFor(manifests: IndexManifest[], platform: OciPlatform): string | undefined {
  return manifests.find((m) => m.platform && configMatches(platform, m.platform))?.digest;
}

/** An entry's platform in Docker's os/architecture[/variant] form. */
export const entryPlatform = (m: IndexManifest): string => configPlatformString(m.platform);
