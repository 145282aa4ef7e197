// A free TCP port on loopback that stays free until its user binds it.
// Asking the kernel for port 0 hands out a port from the ephemeral range, and
// the same range serves every outgoing connection's local port: between
// "free" and the server's own bind, a client socket (a route, an HTTP fetch)
// can take it, and the server dies with EADDRINUSE. So the port is drawn at
// random from below the ephemeral range, where only an explicit bind can take
// it, and checked by binding it once.
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const FALLBACK_EPHEMERAL = { low: 32768, high: 60999 };
/**
 * Below this, ports are commonly configured services, and fetch() refuses the
 * WHATWG "bad ports", the highest of which is 10080: a registry there never
 * answers a health check.
 */
const LOWEST = 10100;
const ATTEMPTS = 200;

/** Ports handed out by this process: two callers never get the same one before either binds it. */
const handedOut = new Set<number>();

/** The kernel's ephemeral range (Linux), or its default where it cannot be read. */
export function ephemeralRange(text?: string): { low: number; high: number } {
  try {
    const [low, high] = (text ?? readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')).trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && low <= high) return { low, high };
  } catch {
    // not Linux, or no /proc: the default range
  }
  return FALLBACK_EPHEMERAL;
}

/** The band ports are drawn from: below the ephemeral range, or above it when there is no room below. */
export function portBand(range: { low: number; high: number }): { low: number; high: number } {
  if (range.low - LOWEST >= 1000) return { low: LOWEST, high: range.low - 1 };
  if (65535 - range.high >= 1000) return { low: range.high + 1, high: 65535 };
  return { low: LOWEST, high: 65535 };
}

function bindable(port: number, host: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.unref();
    s.once('error', () => resolve(false));
    s.listen({ port, host, exclusive: true }, () => s.close(() => resolve(true)));
  });
}

/** A port on `host` (default 127.0.0.1) that nothing listens on, outside the ephemeral range. */
export async function freeLoopbackPort(host = '127.0.0.1'): Promise<number> {
  const band = portBand(ephemeralRange());
  for (let i = 0; i < ATTEMPTS; i++) {
    const port = band.low + Math.floor(Math.random() * (band.high - band.low + 1));
    if (handedOut.has(port)) continue;
    if (await bindable(port, host)) {
      handedOut.add(port);
      return port;
    }
  }
  throw new Error(`no free port on ${host} between ${band.low} and ${band.high} after ${ATTEMPTS} tries`);
}
