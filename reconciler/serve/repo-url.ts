// Pure: the URL agents reach this service's /repos at, when kiln.yaml sets no
// repoUrl. A wildcard listen address (0.0.0.0, ::) names no host an agent can
// dial, so the machine's host name stands in for it.
export function servedReposUrl(host: string, port: number, hostname: string): string {
  const wildcard = host === '0.0.0.0' || host === '::' || host === '';
  const h = wildcard ? hostname : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}/repos`;
}
