// The agent's --metrics-listen address, apart from the metrics themselves: checking it
// needs no prom-client (kiln agent loads that only when asked to serve metrics).

/** Pure: `HOST:PORT`, `[::1]:PORT` or `:PORT` (all interfaces) as listen() arguments, or a problem. */
export function parseListen(addr: string): { host?: string; port: number } | string {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) return `'${addr}': expected HOST:PORT or :PORT`;
  const host = m[1] ?? m[2];
  return host ? { host, port } : { port };
}
