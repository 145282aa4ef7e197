// Starts a real nats-server with JetStream on a free port and a temp store.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeLoopbackPort } from '../../reconciler/net/free-port.ts';

export interface NatsServer {
  url: string;
  port: number;
  /** The monitoring endpoint (http://127.0.0.1:PORT), when started with { monitor: true }. */
  monitorUrl?: string;
  storeDir: string;
  /** The server's process id while it runs (benchmarks read its CPU time). */
  pid(): number | undefined;
  /** Stop the server (SIGTERM), keeping the store. */
  stop(): Promise<void>;
  /** Start it again on the same port and store. */
  restart(): Promise<void>;
  /** Stop and delete the store. */
  dispose(): Promise<void>;
}

/** SIGTERM a child process (if still running) and wait for it to exit. */
export async function terminate(p: ChildProcess | undefined): Promise<void> {
  if (!p || p.exitCode !== null) return;
  await new Promise<void>((resolve) => {
    p.once('exit', () => resolve());
    p.kill('SIGTERM');
  });
}

/** A free loopback port outside the ephemeral range (see reconciler/net/free-port.ts for why). */
export const freePort = (): Promise<number> => freeLoopbackPort();

export async function waitForLine(proc: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let buf = '';
    // A server that never became ready is killed: a live child would hold the test file until the runner's timeout.
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`nats-server did not start in ${timeoutMs} ms:\n${buf}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      buf += d.toString();
      if (pattern.test(buf)) {
        clearTimeout(timer);
        proc.stderr?.off('data', onData);
        resolve();
      }
    };
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`nats-server exited with ${code}:\n${buf}`));
    });
  });
}

/**
 * `config`: extra nats-server configuration (e.g. an authorization block); flags set the rest.
 * `monitor`: also open the monitoring endpoint (connz, jsz) on a free port.
 * `configHasStore`: the config has its own `jetstream { store_dir }` (e.g. one `kiln nats-config`
 * wrote), so no -sd flag (nats-server refuses both).
 */
export async function startNats(opts: { config?: string; monitor?: boolean; configHasStore?: boolean } = {}): Promise<NatsServer> {
  const storeDir = await mkdtemp(join(tmpdir(), 'kiln-nats-'));
  const port = await freePort();
  const monitorPort = opts.monitor ? await freePort() : undefined;
  const configArgs: string[] = [];
  if (opts.config) {
    const file = join(storeDir, 'extra.conf');
    await writeFile(file, opts.config);
    configArgs.push('-c', file);
  }
  let proc: ChildProcess | undefined;
  const launch = async () => {
    const monitor = monitorPort ? ['-m', String(monitorPort)] : [];
    proc = spawn('nats-server', [...configArgs, '-js', '-a', '127.0.0.1', '-p', String(port), ...(opts.configHasStore ? [] : ['-sd', storeDir]), ...monitor], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await waitForLine(proc, /Server is ready/, 10_000);
    proc.stderr?.resume();
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    await terminate(p);
  };
  await launch();
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    ...(monitorPort ? { monitorUrl: `http://127.0.0.1:${monitorPort}` } : {}),
    storeDir,
    pid: () => proc?.pid,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    dispose: async () => {
      await stop();
      await rm(storeDir, { recursive: true, force: true });
    },
  };
}
