// Pure: the .repo file users put into /etc/yum.repos.d/ to install from a Kiln
// dnf repository. Both the packages and repomd.xml are checked against the key.
export interface RepoFileInput {
  distribution: string;
  /** Where the repository is served (http(s):// or file://), without a trailing slash. */
  baseUrl: string;
  /** Human name; default "Kiln <distribution>". */
  title?: string;
}

/**
 * Where the .repo file sends dnf: the distribution's `baseUrl:` when set; else,
 * when the repositories are served over HTTP (kiln.yaml `repoUrl`, or the address
 * of `kiln up` / `kiln reconcile --listen … --repos …`), `<that URL>/<name>`;
 * else undefined, and the publisher writes `file://<repos>/<name>`.
 */
export function servedBaseUrl(dist: { name: string; baseUrl?: string }, reposUrl: string | undefined): string | undefined {
  if (dist.baseUrl) return dist.baseUrl;
  return reposUrl ? `${reposUrl.replace(/\/+$/, '')}/${encodeURIComponent(dist.name)}` : undefined;
}

export function repoFile(r: RepoFileInput, keyFile: string): string {
  const base = r.baseUrl.replace(/\/+$/, '');
  return [
    `[kiln-${r.distribution}]`,
    `name=${(r.title ?? `Kiln ${r.distribution}`).replace(/[\r\n]/g, ' ')}`,
    `baseurl=${base}`,
    'enabled=1',
    'gpgcheck=1',
    'repo_gpgcheck=1',
    `gpgkey=${base}/${keyFile}`,
    '',
  ].join('\n');
}
