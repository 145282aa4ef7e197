// Pure: the .repo file users put into /etc/yum.repos.d/ to install from a Kiln
// dnf repository. Both the packages and repomd.xml are checked against the key.
export interface RepoFileInput {
  distribution: string;
  /** Where the repository is served (http(s):// or file://), without a trailing slash. */
  baseUrl: string;
  /** Human name; default "Kiln <distribution>". */
  title?: string;
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
