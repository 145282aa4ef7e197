// Starts a real Debian `docker-registry` (distribution 2.8) on a free loopback
// port with a generated config and temp storage: what OCI tests push to and
// promote between (a candidate and a production instance). Plain http on
// 127.0.0.1 (Docker and skopeo --tls-verify=false accept that); no auth, or, with
// `users`, htpasswd basic auth admitting exactly those users (as `kiln up` runs them);
// with `tls`, https with a self-signed certificate (openssl) nobody trusts.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:https';
import { promisify } from 'node:util';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { RegistryCredential } from '../../oci/registry-auth.ts';
import { htpasswdLines } from '../../reconciler/up/registry-credentials.ts';
import { freePort, terminate } from './nats.ts';
import { until } from './until.ts';

export interface TestRegistry {
  /** host:port, e.g. 127.0.0.1:41234: the registry part of an image reference. */
  host: string;
  port: number;
  storageDir: string;
  /** Stop the process, keeping the storage (a registry that is down). */
  stop(): Promise<void>;
  /** Start again on the same port and storage. */
  restart(): Promise<void>;
  /** Stop and delete the storage. */
  dispose(): Promise<void>;
}

function config(port: number, storageDir: string, htpasswd?: string, tls?: { certificate: string; key: string }): string {
  // JSON is YAML: no YAML library needed for a file this small.
  return JSON.stringify({
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: storageDir }, delete: { enabled: true }, cache: { blobdescriptor: 'inmemory' } },
    http: { addr: `127.0.0.1:${port}`, ...(tls ? { tls } : {}) },
    ...(htpasswd ? { auth: { htpasswd: { realm: 'kiln-test', path: htpasswd } } } : {}),
  });
}

/** /v2/ answers 200, or 401 from a registry that wants credentials. */
async function answers(port: number, tls: boolean): Promise<boolean> {
  if (tls) {
    return new Promise((resolve) => {
      get({ host: '127.0.0.1', port, path: '/v2/', rejectUnauthorized: false }, (res) => {
        res.resume();
        resolve(res.statusCode === 200 || res.statusCode === 401);
      }).on('error', () => resolve(false));
    });
  }
  try {
    const res = await fetch(`http://127.0.0.1:${port}/v2/`);
    return res.status === 200 || res.status === 401;
  } catch {
    return false;
  }
}

/** A running registry; call dispose() in t.after. `name` only labels the temp dir; `users`: the only ones admitted. */
export async function startRegistry(name = 'registry', o: { users?: RegistryCredential[]; tls?: boolean } = {}): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), `kiln-${name}-`));
  const storageDir = join(dir, 'storage');
  const port = await freePort();
  const cfg = join(dir, 'config.yml');
  const htpasswd = o.users ? join(dir, 'htpasswd') : undefined;
  if (htpasswd) await writeFile(htpasswd, htpasswdLines(o.users!), { mode: 0o600 });
  const tls = o.tls ? { certificate: join(dir, 'cert.pem'), key: join(dir, 'key.pem') } : undefined;
  if (tls) {
    await promisify(execFile)('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', tls.key, '-out', tls.certificate]);
  }
  await writeFile(cfg, config(port, storageDir, htpasswd, tls));
  let proc: ChildProcess | undefined;
  let stderr = '';
  const launch = async () => {
    stderr = '';
    const p = spawn('docker-registry', ['serve', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
    proc = p;
    p.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    // A registry that never answered is stopped: a live child would keep the test process (and its file) running until the runner's timeout.
    await until(async () => (p.exitCode !== null ? Promise.reject(new Error(`docker-registry exited with ${p.exitCode}:\n${stderr}`)) : answers(port, tls !== undefined)), 15_000, `docker-registry on port ${port}`).catch(
      async (e: unknown) => {
        await terminate(p);
        throw e;
      },
    );
  };
  const stop = async () => {
    const p = proc;
    proc = undefined;
    await terminate(p);
  };
  await launch();
  return {
    host: `127.0.0.1:${port}`,
    port,
    storageDir,
    stop,
    restart: async () => {
      await stop();
      await launch();
    },
    dispose: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
