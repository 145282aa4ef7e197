// The OCI distribution API's metadata calls, in process (fetch): list a
// repository's tags, read a manifest's bytes, put a manifest under a tag. They
// move no blobs, so a skopeo process for each (≈ as costly as a small copy) is
// mostly start-up; promotion makes several per image. Anonymous or basic auth
// only: a registry that answers with a Bearer (token service) challenge, or whose
// TLS certificate Node does not trust (skopeo also reads
// /etc/containers/certs.d), gets USE_SKOPEO back, and the caller uses skopeo.
// Failures are the same typed errors as skopeo's (oci/skopeo.ts): unreachable
// and 5xx (and 408, 429) transient, refused credentials usage, a missing name ImageNotFoundError.
import { ImageNotFoundError, RegistryError } from '../schema/errors.ts';
import { encodeAuth, type RegistryCredential } from './registry-auth.ts';

/** The manifest types Kiln reads and writes, so the registry never converts one (a conversion changes the digest). */
export const MANIFEST_TYPES = [
  'application/vnd.docker.distribution.manifest.v2+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.oci.image.index.v1+json',
];

export interface DistributionApiOptions {
  /** https (true) or plain http (false) for a host. */
  tls(registry: string): boolean;
  credential(registry: string): Promise<RegistryCredential | undefined>;
  timeoutMs?: number;
}

/** Pure: the mediaType a manifest names itself (a registry that sends no Content-Type), else Docker's v2. */
export function ownMediaType(bytes: Uint8Array): string {
  try {
    const m = (JSON.parse(Buffer.from(bytes).toString('utf8')) as { mediaType?: unknown }).mediaType;
    return typeof m === 'string' && m ? m : MANIFEST_TYPES[0];
  } catch {
    return MANIFEST_TYPES[0];
  }
}

/** Not handled here: the caller falls back to skopeo. */
export const USE_SKOPEO = Symbol('use skopeo');

export class DistributionApi {
  constructor(private readonly opts: DistributionApiOptions) {}

  private async request(registry: string, path: string, init: RequestInit = {}): Promise<Response | typeof USE_SKOPEO> {
    const url = `${this.opts.tls(registry) ? 'https' : 'http'}://${registry}/v2/${path}`;
    const c = await this.opts.credential(registry);
    const headers = new Headers(init.headers);
    if (c) headers.set('authorization', `Basic ${encodeAuth(c)}`);
    let res: Response;
    try {
      res = await fetch(url, { ...init, headers, redirect: 'follow', signal: AbortSignal.timeout(this.opts.timeoutMs ?? 120_000) });
    } catch (cause) {
      const code = String((cause as { cause?: { code?: unknown } }).cause?.code ?? '');
      if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS/.test(code)) return USE_SKOPEO;
      throw new RegistryError(`${registry}: the registry could not be reached: ${(cause as Error).message}`, { registry, url }, { kind: 'transient', cause });
    }
    if (res.status === 401 && /^\s*bearer/i.test(res.headers.get('www-authenticate') ?? '')) return USE_SKOPEO;
    if (res.status === 401 || res.status === 403) {
      // RegistryClient says which registry and which credentials file.
      throw new RegistryError(`${res.status} on ${init.method ?? 'GET'} /v2/${path}${c ? ` as ${c.username}` : ''}`, { registry, status: res.status }, { kind: 'usage' });
    }
    // 408 and 429 say "later", as a 5xx does: a retry, not a build's failure.
    if (res.status >= 500 || res.status === 408 || res.status === 429) throw new RegistryError(`${registry}: ${res.status} on /v2/${path}`, { registry, status: res.status }, { kind: 'transient' });
    // `insecure: true` on an https registry with a certificate nobody trusts: skopeo with
    // --tls-verify=false tries https first, the plain-http request here gets this answer.
    if (res.status === 400 && !this.opts.tls(registry) && /HTTP request to an HTTPS server/i.test(await res.clone().text())) return USE_SKOPEO;
    return res;
  }

  /** GET /v2/: whether the registry admits these credentials (a refusal throws RegistryError usage). */
  async checkAccess(registry: string): Promise<void | typeof USE_SKOPEO> {
    const res = await this.request(registry, '');
    if (res === USE_SKOPEO) return USE_SKOPEO;
    await res.arrayBuffer();
  }

  /** Every tag of a repository (following the Link header's pages); [] when the repository does not exist. */
  async listTags(registry: string, repository: string): Promise<string[] | typeof USE_SKOPEO> {
    const tags: string[] = [];
    let path: string | undefined = `${repository}/tags/list?n=1000`;
    while (path) {
      const res = await this.request(registry, path);
      if (res === USE_SKOPEO) return USE_SKOPEO;
      if (res.status === 404) return [];
      if (res.status !== 200) throw new RegistryError(`${registry}/${repository}: listing tags answered ${res.status}: ${(await res.text()).slice(0, 300)}`, { registry, repository, status: res.status }, { kind: 'terminal' });
      tags.push(...(((await res.json()) as { tags?: string[] | null }).tags ?? []));
      // Link: </v2/REPO/tags/list?n=1000&last=TAG>; rel="next"
      path = /<\/v2\/([^>]+)>;\s*rel="?next"?/.exec(res.headers.get('link') ?? '')?.[1];
    }
    return tags.sort();
  }

  /** A manifest's exact bytes and media type, by tag or digest. */
  async getManifest(registry: string, repository: string, reference: string): Promise<{ bytes: Buffer; mediaType: string } | typeof USE_SKOPEO> {
    const res = await this.request(registry, `${repository}/manifests/${reference}`, { headers: { accept: MANIFEST_TYPES.join(', ') } });
    if (res === USE_SKOPEO) return USE_SKOPEO;
    if (res.status === 404) throw new ImageNotFoundError(`${registry}/${repository}:${reference}: manifest unknown`, { registry, repository, reference });
    if (res.status !== 200) throw new RegistryError(`${registry}/${repository}:${reference}: reading the manifest answered ${res.status}`, { registry, repository, status: res.status }, { kind: 'terminal' });
    const bytes = Buffer.from(await res.arrayBuffer());
    return { bytes, mediaType: res.headers.get('content-type') || ownMediaType(bytes) };
  }

  /** A blob's bytes by digest (an image config: small). */
  async getBlob(registry: string, repository: string, digest: string): Promise<Buffer | typeof USE_SKOPEO> {
    const res = await this.request(registry, `${repository}/blobs/${digest}`);
    if (res === USE_SKOPEO) return USE_SKOPEO;
    if (res.status === 404) throw new ImageNotFoundError(`${registry}/${repository}@${digest}: blob unknown`, { registry, repository, reference: digest });
    if (res.status !== 200) throw new RegistryError(`${registry}/${repository}@${digest}: reading the blob answered ${res.status}`, { registry, repository, status: res.status }, { kind: 'terminal' });
    return Buffer.from(await res.arrayBuffer());
  }

  /** The digest a tag points at as the registry says (HEAD, Docker-Content-Digest); '' when it does not say. */
  async headDigest(registry: string, repository: string, tag: string, mediaType: string): Promise<string | typeof USE_SKOPEO> {
    const res = await this.request(registry, `${repository}/manifests/${tag}`, { method: 'HEAD', headers: { accept: [mediaType, ...MANIFEST_TYPES].join(', ') } });
    if (res === USE_SKOPEO) return USE_SKOPEO;
    if (res.status === 404) throw new ImageNotFoundError(`${registry}/${repository}:${tag}: manifest unknown`, { registry, repository, reference: tag });
    if (res.status !== 200) throw new RegistryError(`${registry}/${repository}:${tag}: HEAD of the manifest answered ${res.status}`, { registry, repository, status: res.status }, { kind: 'terminal' });
    return res.headers.get('docker-content-digest') ?? '';
  }

  /** Put manifest bytes under `tag`; returns the digest the registry says it stored. */
  async putManifest(registry: string, repository: string, tag: string, manifest: { bytes: Buffer; mediaType: string }): Promise<string | typeof USE_SKOPEO> {
    const res = await this.request(registry, `${repository}/manifests/${tag}`, { method: 'PUT', body: new Uint8Array(manifest.bytes), headers: { 'content-type': manifest.mediaType } });
    if (res === USE_SKOPEO) return USE_SKOPEO;
    if (res.status !== 201) throw new RegistryError(`${registry}/${repository}:${tag}: putting the manifest answered ${res.status}: ${(await res.text()).slice(0, 300)}`, { registry, repository, status: res.status }, { kind: 'terminal' });
    await res.arrayBuffer();
    return res.headers.get('docker-content-digest') ?? '';
  }
}
