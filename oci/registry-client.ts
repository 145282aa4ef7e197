// The registry operations Kiln needs, over skopeo: read a manifest (and check its
// digest ourselves), copy by digest (candidate → production, never a rebuild),
// point a tag at a verified digest, list tags, delete a manifest.
//
// Every copy is checked twice: skopeo verifies blobs while copying, and the digest
// the destination reports must be the source digest (else DigestMismatchError,
// terminal: nothing is promoted). Kiln's own copies run with --insecure-policy and
// --remove-signatures: trust here is the verified digest, and Kiln writes its own
// signatures for every tag afterwards (sign-image.ts).
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DigestMismatchError, ImageNotFoundError, RegistryError } from '../schema/errors.ts';
import type { OciImage, OciLayer } from '../schema/oci.ts';
import { byDigest, formatRef, type ImageRef } from './image-ref.ts';
import { DistributionApi, ownMediaType, USE_SKOPEO } from './distribution-api.ts';
import { parseRegistryAuth, type RegistryAuth, type RegistryCredential } from './registry-auth.ts';
import { runSkopeo, type SkopeoOptions } from './skopeo.ts';

const MANIFEST_LIST_TYPES = new Set(['application/vnd.docker.distribution.manifest.list.v2+json', 'application/vnd.oci.image.index.v1+json']);

interface RawManifest {
  mediaType?: string;
  config?: { digest: string; size: number; mediaType: string };
  layers?: OciLayer[];
}

export function sha256Digest(bytes: string | Uint8Array): string {
  return 'sha256:' + createHash('sha256').update(bytes).digest('hex');
}

/** Pure: an OciImage from a raw manifest and its digest. */
export function describeManifest(repository: string, raw: string, digest: string): OciImage {
  let m: RawManifest;
  try {
    m = JSON.parse(raw) as RawManifest;
  } catch (cause) {
    throw new RegistryError(`the manifest of ${repository}@${digest} is not JSON`, { repository, digest }, { cause, kind: 'terminal' });
  }
  const mediaType = m.mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
  if (MANIFEST_LIST_TYPES.has(mediaType) || !m.config || !Array.isArray(m.layers)) {
    throw new RegistryError(`${repository}@${digest} is a ${mediaType}, not a single image manifest`, { repository, digest, mediaType }, { kind: 'terminal' });
  }
  const layers = m.layers.map((l) => ({ digest: l.digest, size: l.size, mediaType: l.mediaType }));
  const size = Buffer.byteLength(raw) + m.config.size + layers.reduce((n, l) => n + l.size, 0);
  return { repository, manifestDigest: digest, mediaType, configDigest: m.config.digest, layers, size };
}

export interface RegistryClientOptions extends Omit<SkopeoOptions, 'authFile'> {
  /** Credentials per registry host (absent: anonymous); skopeo gets the file, in-process calls the host's entry. */
  auth?: RegistryAuth;
}

export class RegistryClient {
  private readonly opts: SkopeoOptions;
  /** Tag lists, manifest reads and tag moves (no blobs) without a skopeo process each; skopeo where the API cannot (distribution-api.ts). */
  private readonly api: DistributionApi;

  constructor(options: RegistryClientOptions) {
    const { auth, ...skopeo } = options;
    this.opts = { ...skopeo, ...(auth ? { authFile: auth.file } : {}) };
    this.hosts = auth ? { mtimeMs: undefined, hosts: auth.hosts } : undefined;
    this.api = new DistributionApi({ tls: (registry) => this.tlsVerify(registry), credential: async (registry) => (await this.currentHosts())?.get(registry), timeoutMs: options.timeoutMs });
  }

  /** The credentials file as last read, and its mtime then. */
  private hosts: { mtimeMs: number | undefined; hosts: ReadonlyMap<string, RegistryCredential> } | undefined;

  /**
   * Each host's credential as the file says now: skopeo reads the file on every call, so the
   * in-process calls read it again whenever its mtime changes (a fixed password holds for both).
   */
  private async currentHosts(): Promise<ReadonlyMap<string, RegistryCredential> | undefined> {
    const file = this.opts.authFile;
    if (!file || !this.hosts) return undefined;
    const mtimeMs = (await stat(file).catch(() => undefined))?.mtimeMs;
    if (mtimeMs === undefined || mtimeMs === this.hosts.mtimeMs) return this.hosts.hosts;
    const parsed = parseRegistryAuth(file, await readFile(file, 'utf8'));
    if (!parsed.value) {
      const d = parsed.diagnostics[0];
      throw new RegistryError(`${file}:${d?.line ?? 1}: the registry credentials file is not valid: ${d?.message ?? 'unreadable'}`, { authFile: file }, { kind: 'usage' });
    }
    this.hosts = { mtimeMs, hosts: parsed.value.hosts };
    return this.hosts.hosts;
  }

  /** Whether TLS is verified for `registry` (set per host: a copy's source and destination may differ). */
  private tlsVerify(registry: string): boolean {
    return typeof this.opts.tlsVerify === 'function' ? this.opts.tlsVerify(registry) : this.opts.tlsVerify;
  }

  /**
   * skopeo's TLS and credentials flags for a reference to `registry` (source and destination of a
   * copy each get their own: `side` '' for a one-reference command, 'src-' or 'dest-').
   */
  private access(side: '' | 'src-' | 'dest-', registry: string): string[] {
    return [`--${side}tls-verify=${this.tlsVerify(registry)}`, ...(this.opts.authFile ? [`--${side}authfile=${this.opts.authFile}`] : [])];
  }

  /** runSkopeo, with a refused credential said plainly (refused()). */
  private run(args: string[], registries: string[]): Promise<string> {
    return this.refused(registries, () => runSkopeo(this.opts, args));
  }

  /** `f`, with a refused credential said plainly: which registry, which credentials file. */
  private async refused<T>(registries: string[], f: () => Promise<T>): Promise<T> {
    try {
      return await f();
    } catch (e) {
      if (!(e instanceof RegistryError) || e.kind !== 'usage') throw e;
      const which = this.opts.authFile ? `the credentials for it in ${this.opts.authFile}` : 'anonymous access (no credentials file given)';
      throw new RegistryError(`${registries.join(' → ')}: the registry refused ${which}: ${e.message}`, { ...e.data, registries, authFile: this.opts.authFile }, { kind: 'usage', cause: e });
    }
  }

  /**
   * The manifest a reference names as served (an image's, or an index's), with its digest
   * computed here from the raw bytes: a tag resolves to what it points at now; a digest
   * reference must hash to itself.
   */
  async manifest(ref: ImageRef): Promise<{ bytes: Buffer; mediaType: string; digest: string }> {
    const got = await this.refused([ref.registry], () => this.api.getManifest(ref.registry, ref.repository, ref.digest ?? ref.tag ?? 'latest'));
    // The digest is of the bytes as served (skopeo's output is those bytes, as UTF-8 text).
    const bytes = got === USE_SKOPEO ? Buffer.from(await this.run(['inspect', '--raw', ...this.access('', ref.registry), `docker://${formatRef(ref)}`], [ref.registry])) : got.bytes;
    const digest = sha256Digest(bytes);
    if (ref.digest && ref.digest !== digest) {
      throw new DigestMismatchError(`${formatRef(ref)} serves a manifest whose digest is ${digest}`, { expected: ref.digest, actual: digest, repository: `${ref.registry}/${ref.repository}` }, { kind: 'terminal' });
    }
    return { bytes, mediaType: got === USE_SKOPEO ? ownMediaType(bytes) : got.mediaType, digest };
  }

  /** The single image a reference names (an index is refused: describeManifest). */
  async inspect(ref: ImageRef): Promise<OciImage> {
    const m = await this.manifest(ref);
    return describeManifest(`${ref.registry}/${ref.repository}`, m.bytes.toString('utf8'), m.digest);
  }

  /** The platform an image's config says (os, architecture, variant), the config read by digest and checked against it. */
  async imagePlatform(ref: ImageRef & { digest: string }): Promise<{ os?: string; architecture?: string; variant?: string }> {
    return this.configPlatform(ref, (await this.inspect(ref)).configDigest);
  }

  /** imagePlatform for an image whose manifest the caller has already read: its config digest. */
  async configPlatform(ref: ImageRef & { digest: string }, configDigest: string): Promise<{ os?: string; architecture?: string; variant?: string }> {
    const got = await this.refused([ref.registry], () => this.api.getBlob(ref.registry, ref.repository, configDigest));
    const bytes = got === USE_SKOPEO ? Buffer.from(await this.run(['inspect', '--config', '--raw', ...this.access('', ref.registry), `docker://${formatRef(ref)}`], [ref.registry])) : got;
    const digest = sha256Digest(bytes);
    if (digest !== configDigest) throw new DigestMismatchError(`the config of ${formatRef(ref)} hashes to ${digest}`, { expected: configDigest, actual: digest }, { kind: 'terminal' });
    const config = JSON.parse(bytes.toString('utf8')) as { os?: string; architecture?: string; variant?: string };
    return { os: config.os, architecture: config.architecture, variant: config.variant };
  }

  /** The digest a tag points at (an image or an index), or undefined when the tag (or repository) does not exist. */
  async resolveTag(ref: ImageRef): Promise<string | undefined> {
    try {
      return (await this.manifest(ref)).digest;
    } catch (e) {
      if (e instanceof ImageNotFoundError) return undefined;
      throw e;
    }
  }

  /**
   * Put an image index (already assembled, every manifest it names already in the repository)
   * under `tag` and check that the registry stored exactly its digest. In process only: a
   * registry that needs a token service cannot take an index from Kiln yet (usage error).
   */
  async putIndex(registry: string, repository: string, tag: string, index: { bytes: Buffer; mediaType: string; digest: string }): Promise<void> {
    const at = byDigest(registry, repository, index.digest);
    const stored = await this.refused([registry], async () => {
      const said = await this.api.putManifest(registry, repository, tag, { bytes: index.bytes, mediaType: index.mediaType });
      return said === '' ? this.storedUnder(at, tag, index.mediaType) : said;
    });
    if (stored === USE_SKOPEO) {
      throw new RegistryError(`${registry}/${repository}: putting an image index needs anonymous or basic access (the registry asks for a token service or a certificate Node does not trust)`, { registry, repository }, { kind: 'usage' });
    }
    if (stored !== index.digest) throw new DigestMismatchError(`putting the index ${formatRef(at)} as ${tag} stored ${stored}`, { expected: index.digest, actual: stored }, { kind: 'terminal' });
  }

  /**
   * Fail early when `registry` refuses these credentials (GET /v2/, usage error naming the file).
   * Not checked in process (a token service): skopeo finds out at the first push.
   */
  async checkAccess(registry: string): Promise<void> {
    await this.refused([registry], () => this.api.checkAccess(registry));
  }

  /** Tags of a repository; none when the repository does not exist yet. */
  async listTags(registry: string, repository: string): Promise<string[]> {
    const listed = await this.refused([registry], () => this.api.listTags(registry, repository));
    if (listed !== USE_SKOPEO) return listed;
    try {
      const out = await this.run(['list-tags', ...this.access('', registry), `docker://${registry}/${repository}`], [registry]);
      return ((JSON.parse(out) as { Tags?: string[] | null }).Tags ?? []).slice().sort();
    } catch (e) {
      if (e instanceof ImageNotFoundError) return [];
      throw e;
    }
  }

  /**
   * Copy the image `source` (by digest) to `dest` (a tag, or a digest in another registry) and
   * return the digest the destination now serves, which must be the source's: the manifest is
   * copied byte for byte (no format conversion), so a different digest is an integrity failure.
   * `--all`: an index is copied with every image it names (its own digest kept); a single image as before.
   */
  async copy(source: ImageRef, dest: ImageRef): Promise<string> {
    if (!source.digest) throw new RegistryError(`refusing to copy ${formatRef(source)}: Kiln copies by digest only`, { source: formatRef(source) }, { kind: 'terminal' });
    const dir = await mkdtemp(join(tmpdir(), 'kiln-skopeo-'));
    try {
      const digestFile = join(dir, 'digest');
      await this.run(
        [
          '--insecure-policy', 'copy', '--all', '--remove-signatures', '--digestfile', digestFile,
          ...this.access('src-', source.registry), ...this.access('dest-', dest.registry),
          `docker://${formatRef(source)}`, `docker://${formatRef(dest)}`,
        ],
        [source.registry, dest.registry],
      );
      const written = (await readFile(digestFile, 'utf8')).trim();
      if (written !== source.digest) {
        throw new DigestMismatchError(`copying ${formatRef(source)} to ${formatRef(dest)} produced ${written}`, { expected: source.digest, actual: written }, { kind: 'terminal' });
      }
      return written;
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /** Push an image from the local Docker engine (by image ID) and return the digest the registry now serves. */
  async pushFromDaemon(imageId: string, dest: ImageRef): Promise<string> {
    const dir = await mkdtemp(join(tmpdir(), 'kiln-skopeo-'));
    try {
      const digestFile = join(dir, 'digest');
      await this.run(['--insecure-policy', 'copy', '--digestfile', digestFile, ...this.access('dest-', dest.registry), `docker-daemon:${imageId}`, `docker://${formatRef(dest)}`], [dest.registry]);
      return (await readFile(digestFile, 'utf8')).trim();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Point `tag` in the digest's repository at `digest`: only the manifest moves, its bytes read by
   * digest (they must hash to it) and put under the tag, which must store that digest.
   */
  async setTag(at: ImageRef & { digest: string }, tag: string): Promise<void> {
    const moved = await this.refused([at.registry], async () => {
      const manifest = await this.api.getManifest(at.registry, at.repository, at.digest);
      if (manifest === USE_SKOPEO) return USE_SKOPEO;
      const read = sha256Digest(manifest.bytes);
      if (read !== at.digest) throw new DigestMismatchError(`${formatRef(at)} serves a manifest whose digest is ${read}`, { expected: at.digest, actual: read }, { kind: 'terminal' });
      const stored = await this.api.putManifest(at.registry, at.repository, tag, manifest);
      // A registry that does not say what it stored is asked what the tag now names.
      return stored === '' ? this.storedUnder(at, tag, manifest.mediaType) : stored;
    });
    if (moved === USE_SKOPEO) {
      await this.copy(at, { registry: at.registry, repository: at.repository, tag });
      return;
    }
    if (moved !== at.digest) throw new DigestMismatchError(`tagging ${formatRef(at)} as ${tag} stored ${moved}`, { expected: at.digest, actual: moved }, { kind: 'terminal' });
  }

  /** The digest `tag` names now: the registry's HEAD answer, else the hash of the manifest it serves. */
  private async storedUnder(at: ImageRef, tag: string, mediaType: string): Promise<string | typeof USE_SKOPEO> {
    const said = await this.api.headDigest(at.registry, at.repository, tag, mediaType);
    if (said !== '') return said;
    const got = await this.api.getManifest(at.registry, at.repository, tag);
    return got === USE_SKOPEO ? USE_SKOPEO : sha256Digest(got.bytes);
  }

  /**
   * Delete a manifest by digest (every tag pointing at it goes with it: distribution 2.8 has
   * no tag-only delete). Returns false when the registry has deletes disabled.
   */
  async deleteManifest(registry: string, repository: string, digest: string): Promise<boolean> {
    try {
      await this.run(['delete', ...this.access('', registry), `docker://${formatRef(byDigest(registry, repository, digest))}`], [registry]);
      return true;
    } catch (e) {
      if (e instanceof ImageNotFoundError) return true;
      if (e instanceof RegistryError && /UNSUPPORTED|unsupported|\b405 Method Not Allowed/.test(String(e.data.stderr))) return false;
      throw e;
    }
  }
}
