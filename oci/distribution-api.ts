// The OCI distribution API's metadata calls, in process (fetch): list a
// repository's tags, read a manifest's bytes, put a manifest under a tag. They
// move no blobs, so a skopeo process for each (≈ as costly as a small copy) is
// mostly start-up; promotion makes several per image. Anonymous or basic auth
// only: a registry that answers with a Bearer (token service) challenge, or whose
// TLS certificate Node does not trust (skopeo also reads
// /etc/containers/certs.d), gets USE_SKOPEO back, and the caller uses skopeo.
// Failures are the same typed errors as skopeo's (oci/skopeo.ts): unreachable
// and 5xx transient, refused credentials usage, a missing name ImageNotFoundError.
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
    if (res.status >= 500) throw new RegistryError(`${registry}: ${res.status} on /v2/${path}`, { registry, status: res.status }, { kind: 'transient' });
    return res;
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
    return { bytes: Buffer.from(await res.arrayBuffer()), mediaType: res.headers.get('content-type') ?? MANIFEST_TYPES[0] };
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
