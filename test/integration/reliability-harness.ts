// Shared world of the reliability tests (not a test file itself): a real
// nats-server, a metadata repo whose packages point at real Debian source repos,
// the reconciler's signing key, and ways to run reconcilers and agents — in
// process, or as child processes that a test can SIGKILL.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { Agent } from '../../agents/agent.ts';
import type { BuildRunner } from '../../agents/runner.ts';
import { connectNats } from '../../reconciler/nats/connect.ts';
import { ensureTopology, type TopologyOptions } from '../../reconciler/nats/topology.ts';
import type { PassPolicy, PassStep } from '../../reconciler/pass/deps.ts';
import { openReconciler, type Reconciler } from '../../reconciler/reconciler-setup.ts';
import { generateKey } from '../../reconciler/signing/signer.ts';
import { readObserved } from '../../reconciler/status/reader.ts';
import { BUCKETS } from '../../schema/nats.ts';
import { STATUS_BRANCH, type BuildRecord } from '../../schema/status.ts';
import { makeDebRepo } from '../fixtures/deb-source.ts';
import { git, makeRepo, type Files } from '../helpers/git.ts';
import { startNats, type NatsServer } from '../helpers/nats.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const quiet = pino({ level: process.env.KILN_TEST_LOG ?? 'silent' });

/** Short timers so redeliveries happen within a test's patience. */
export const TOPOLOGY: Omit<TopologyOptions, 'pools'> = { ackWaitMs: 3000, maxDeliver: 3, resultsAckWaitMs: 2000, agentTtlMs: 10_000 };
export const POOLS = { deb: { architectures: ['amd64'] } };
export const POLICY: Partial<PassPolicy> = { retry: { backoff: { baseMs: 300, capMs: 1000, jitter: 0 } }, quietMaxMs: 0 };

export interface PackageSpec {
  source: Files;
  version?: string;
  limits?: { memoryMiB?: number; timeoutSeconds?: number };
}

/** What the world's NATS runs on: one server (default) or a cluster (test/helpers/nats-cluster.ts). */
export interface Broker {
  /** Client URL(s), comma-separated for a cluster. */
  url: string;
  dispose(): Promise<void>;
}

export interface World<B extends Broker = NatsServer> {
  nats: B;
  nc: NatsConnection;
  js: JetStreamClient;
  objectStore: ObjectStore;
  repoDir: string;
  keyFile: string;
  tmp: string;
  reconciler(opts?: { onStep?: (s: PassStep) => void | Promise<void> }): Promise<Reconciler>;
  agent(id: string, runner?: BuildRunner): Promise<Agent>;
  records(): Promise<Map<string, BuildRecord>>;
  statusCommits(): Promise<number>;
  /** Run passes until `done(records)` holds. */
  converge(rec: Reconciler, done: (r: Map<string, BuildRecord>) => boolean, timeoutMs: number): Promise<Map<string, BuildRecord>>;
  close(): Promise<void>;
}

function packageYaml(name: string, dir: string, p: PackageSpec): string {
  const limits = p.limits ? `limits:\n${Object.entries(p.limits).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n` : '';
  return `name: ${name}\nversion: '${p.version ?? '1.0'}'\nsource:\n  git: ${dir}\n  ref: main\nformat: deb\narchitectures: [amd64]\n${limits}`;
}

const KILN_YAML = `trust:\n  keys: []\n  requireSignedCommits: false\npools:\n  deb:\n    architectures: [amd64]\ndefaults:\n  pool: deb\n  image: kiln/bookworm-debhelper\n  limits:\n    memoryMiB: 512\n    cpus: 1\n    pids: 512\n    timeoutSeconds: 600\n  maxAttempts: 3\n  keep: 3\n`;

export function startWorld(packages: Record<string, PackageSpec>): Promise<World>;
export function startWorld<B extends Broker>(packages: Record<string, PackageSpec>, broker: () => Promise<B>): Promise<World<B>>;
export async function startWorld(packages: Record<string, PackageSpec>, broker: () => Promise<Broker> = startNats): Promise<World<Broker>> {
  const tmp = await mkdtemp(join(tmpdir(), 'kiln-rel-'));
  const nats = await broker();
  const nc = await connectNats(nats.url, { name: 'kiln-test', log: quiet, reconnectTimeWaitMs: 250 });
  await ensureTopology(nc, { pools: POOLS, ...TOPOLOGY });
  const files: Files = { 'kiln.yaml': KILN_YAML };
  for (const [name, p] of Object.entries(packages)) {
    const src = await makeDebRepo(p.source);
    files[`packages/${name}.yaml`] = packageYaml(name, src.dir, p);
  }
  const repo = await makeRepo(files);
  const key = await generateKey({ name: 'Kiln Test Reconciler', email: 'reconciler@kiln.invalid' });
  const keyFile = join(tmp, 'signing.key');
  await writeFile(keyFile, key.privateKeyArmored, { mode: 0o600 });
  const open: Array<{ close(): Promise<unknown> }> = [];
  const world: World<Broker> = {
    nats,
    nc,
    js: jetstream(nc),
    objectStore: await new Objm(nc).open(BUCKETS.artifacts),
    repoDir: repo.dir,
    keyFile,
    tmp,
    async reconciler(opts = {}) {
      const rec = await openReconciler({
        repoDir: repo.dir,
        natsUrl: nats.url,
        signingKey: { keyFile },
        artifactsDir: join(tmp, 'artifacts'),
        policy: POLICY,
        topology: TOPOLOGY,
        log: quiet,
        onStep: opts.onStep,
      });
      open.push(rec);
      return rec;
    },
    async agent(id, runner) {
      const a = new Agent({ nc, pool: 'deb', arch: 'amd64', workDir: tmp, log: quiet, id, heartbeatMs: 500, runner, pullExpiresMs: 1000 });
      open.unshift({ close: () => a.close({ hard: true }) });
      await a.start();
      return a;
    },
    async records() {
      return (await readObserved({ dir: repo.dir, cache: {} })).state.builds;
    },
    async statusCommits() {
      return Number(await git(repo.dir, 'rev-list', '--count', STATUS_BRANCH).catch(() => '0'));
    },
    async converge(rec, done, timeoutMs) {
      const end = Date.now() + timeoutMs;
      for (;;) {
        await rec.runPass();
        const r = await world.records();
        if (done(r)) return r;
        if (Date.now() > end) throw new Error(`not converged in ${timeoutMs} ms: ${JSON.stringify([...r.values()].map((x) => [x.inputs.package, x.state, x.attempts.length, x.failure?.reason]))}`);
        await new Promise((res) => setTimeout(res, 250));
      }
    },
    async close() {
      for (const o of open) await o.close().catch(() => undefined);
      await nc.close().catch(() => undefined);
      await nats.dispose();
      await rm(tmp, { recursive: true, force: true });
    },
  };
  return world;
}

/** A tiny package source whose build runs `buildShell` first (sleep, fail, eat memory). */
export { debSource } from '../fixtures/deb-source.ts';

/**
 * One reconcile pass in a child process that SIGKILLs itself right after `crashAt`
 * (a PassStep), or finishes normally when crashAt is undefined. Resolves with its
 * exit signal/code and output.
 */
export function passInChild(w: World, crashAt?: PassStep): Promise<{ code: number | null; signal: NodeJS.Signals | null; out: string }> {
  const settings = { repoDir: w.repoDir, natsUrl: w.nats.url, keyFile: w.keyFile, artifactsDir: join(w.tmp, 'artifacts'), policy: POLICY, topology: TOPOLOGY, crashAt };
  const code = `
    import { pino } from 'pino';
    import { openReconciler } from './reconciler/reconciler-setup.ts';
    const s = JSON.parse(process.argv[1]);
    const rec = await openReconciler({
      repoDir: s.repoDir, natsUrl: s.natsUrl, signingKey: { keyFile: s.keyFile }, artifactsDir: s.artifactsDir,
      policy: s.policy, topology: s.topology, log: pino({ level: 'warn' }, pino.destination(2)),
      onStep: (step) => { if (step === s.crashAt) { process.stdout.write('CRASH ' + step + '\\n'); process.kill(process.pid, 'SIGKILL'); } },
    });
    const r = await rec.runPass();
    process.stdout.write('DONE ' + JSON.stringify({ results: r.results, dispatched: r.dispatched }) + '\\n');
    await rec.close();
  `;
  return new Promise((resolve, reject) => {
    const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code, JSON.stringify(settings)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d) => (out += d));
    child.stderr?.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal, out }));
  });
}

/** `kiln agent` as a child process (the real CLI, the real DockerRunner). */
export function agentProcess(w: World, id: string): ChildProcess {
  return spawn(process.execPath, [join(ROOT, 'bin/kiln.js'), 'agent', '--nats', w.nats.url, '--pool', 'deb', '--arch', 'amd64', '--id', id, '--heartbeat-seconds', '1', '--work-dir', w.tmp, '-q'], {
    cwd: ROOT,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
}

export { until } from '../helpers/until.ts';
