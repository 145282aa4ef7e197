// The whole service for HTTP tests, every part real: nats-server (with its
// monitoring port, to count subscriptions), a metadata repo, the reconciler in
// watch mode with metrics, one agent (a runner that needs no container and can
// hold a build open while it prints), and the HTTP server on its own NATS
// connection ('kiln-http').
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { Agent } from '../../agents/agent.ts';
import { noopDeb } from '../../agents/noop-deb.ts';
import type { BuildRunner, RunOptions, RunOutcome, WorkDir } from '../../agents/runner.ts';
import { createRegistry, type Registry } from '../../observability/metrics-registry.ts';
import { startHttpServer, type HttpServer } from '../../reconciler/http/server.ts';
import { addToken } from '../../reconciler/http/tokens-file.ts';
import { createReconcilerMetrics } from '../../reconciler/metrics/reconciler-metrics.ts';
import { agentState } from '../../reconciler/pipeline/agent-state.ts';
import { LiveView } from '../../reconciler/pipeline/live-view.ts';
import { openReconciler, type Reconciler } from '../../reconciler/reconciler-setup.ts';
import { generateKey } from '../../reconciler/signing/signer.ts';
import { watch } from '../../reconciler/watch.ts';
import type { BuildJob } from '../../schema/messages.ts';
import { BUCKETS, STREAMS } from '../../schema/nats.ts';
import { makeRepo, type Files } from './git.ts';
import { startNats, type NatsServer } from './nats.ts';

export const quietLog = pino({ level: process.env.KILN_TEST_LOG ?? 'silent' });

/** Builds nothing; for packages put on hold it prints lines, then waits for release() before the rest. */
export class HeldRunner implements BuildRunner {
  readonly name = 'held';
  readonly needsSource = false;
  private readonly holds = new Map<string, { release: () => void; released: Promise<void> }>();

  hold(pkg: string): void {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    this.holds.set(pkg, { release, released });
  }

  release(pkg: string): void {
    this.holds.get(pkg)?.release();
  }

  async run(job: BuildJob, work: WorkDir, { onLog }: RunOptions): Promise<RunOutcome> {
    const held = this.holds.get(job.inputs.package);
    onLog(Buffer.from(`building ${job.inputs.package} ${job.inputs.version}\n`));
    if (held) {
      for (let i = 1; i <= 3; i++) {
        onLog(Buffer.from(`before release line ${i}\n`));
        await new Promise((r) => setTimeout(r, 100));
      }
      await held.released;
      for (let i = 1; i <= 2; i++) onLog(Buffer.from(`after release line ${i}\n`));
    }
    // A real (empty) .deb of the job's package: a build without one is a failed build.
    const deb = await noopDeb(job.inputs, job.key);
    const file = join(work.root, deb.name);
    await writeFile(file, deb.bytes);
    return { exitCode: 0, oomKilled: false, timedOut: false, artifacts: [file] };
  }
}

export interface Service {
  nats: NatsServer;
  nc: NatsConnection;
  httpNc: NatsConnection;
  repoDir: string;
  rec: Reconciler;
  runner: HeldRunner;
  agent: Agent;
  http: HttpServer;
  url: string;
  registry: Registry;
  tokensFile: string;
  tokens: { viewer: string; operator: string };
  close(): Promise<void>;
}

/** A reconciler that publishes: a fresh release key, repositories at DIR/repos, artifacts at DIR/artifacts, passes without waiting. */
export async function openPublishingReconciler(dir: string, repoDir: string, natsUrl: string): Promise<Reconciler> {
  const key = await generateKey({ name: 'Kiln Test Reconciler', email: 'reconciler@kiln.invalid' });
  await writeFile(join(dir, 'signing.key'), key.privateKeyArmored, { mode: 0o600 });
  return openReconciler({
    repoDir,
    natsUrl,
    signingKey: { keyFile: join(dir, 'signing.key') },
    reposDir: join(dir, 'repos'),
    artifactsDir: join(dir, 'artifacts'),
    policy: { quietMaxMs: 0, resultWaitMs: 500 },
    log: quietLog,
  });
}

const KILN_YAML = `trust:\n  keys: []\n  requireSignedCommits: false\npools:\n  deb:\n    architectures: [amd64]\ndefaults:\n  pool: deb\n  image: kiln/bookworm-debhelper\n  maxAttempts: 3\n  keep: 3\n`;

export async function startService(packages: string[], opts: { hold?: string[]; publicRead?: boolean } = {}): Promise<Service> {
  const tmp = await mkdtemp(join(tmpdir(), 'kiln-http-'));
  const nats = await startNats({ monitor: true });
  const nc = await connect({ servers: nats.url, name: 'test' });
  const src = await makeRepo({ 'README': 'source\n' });
  const files: Files = { 'kiln.yaml': KILN_YAML };
  for (const p of packages) files[`packages/${p}.yaml`] = `name: ${p}\nversion: '1.0'\nsource:\n  git: ${src.dir}\n  ref: main\nformat: deb\narchitectures: [amd64]\n`;
  const repo = await makeRepo(files);
  const key = await generateKey({ name: 'Kiln Test Reconciler', email: 'reconciler@kiln.invalid' });
  const keyFile = join(tmp, 'signing.key');
  await writeFile(keyFile, key.privateKeyArmored, { mode: 0o600 });

  const httpNc = await connect({ servers: nats.url, name: 'kiln-http' });
  let live: LiveView | undefined; // made once the reconciler set up the topology; read only at scrape time
  const registry = createRegistry({ processMetrics: false });
  const metrics = createReconcilerMetrics(registry, {
    queues: () => live!.queues(),
    resultsWaiting: () => live!.resultsWaiting(),
    agents: async () => (await live!.agents()).map((a) => ({ pool: a.pool, arch: a.arch, state: agentState(a) })),
  });
  const rec = await openReconciler({
    repoDir: repo.dir,
    natsUrl: nats.url,
    signingKey: { keyFile },
    artifactsDir: join(tmp, 'artifacts'),
    policy: { quietMaxMs: 0 },
    topology: { agentTtlMs: 10_000 },
    log: quietLog,
    metrics,
  });
  live = new LiveView(httpNc, await jetstreamManager(httpNc), await new Objm(httpNc).open(BUCKETS.artifacts));
  const runner = new HeldRunner();
  for (const p of opts.hold ?? []) runner.hold(p);
  const agent = new Agent({ nc, pool: 'deb', arch: 'amd64', workDir: tmp, log: quietLog, id: 'test-agent', heartbeatMs: 300, runner, pullExpiresMs: 1000 });
  await agent.start();

  const stop = new AbortController();
  const loop = watch(
    { runPass: () => rec.runPass({ leased: true }), readHead: () => rec.readHead(), resultsWaiting: () => rec.session!.resultsWaiting(), lease: rec.lease, log: quietLog, signal: stop.signal, now: () => new Date(), random: Math.random },
    { intervalMs: 500, pollMs: 100, batchMs: 50 },
  );
  const tokensFile = join(tmp, 'tokens.json');
  const tokens = { viewer: (await addToken(tokensFile, 'viewer', 'viewer')).token, operator: (await addToken(tokensFile, 'ops', 'operator')).token };
  const http = await startHttpServer({ repoDir: repo.dir, reposDir: tmp, live, signer: rec.signer, tokensFile, publicRead: opts.publicRead ?? true, metrics: registry, log: quietLog, wake: (r) => loop.wake(r) });
  return {
    nats, nc, httpNc, repoDir: repo.dir, rec, runner, agent, http, url: http.url, registry, tokensFile, tokens,
    async close() {
      for (const p of opts.hold ?? []) runner.release(p);
      stop.abort();
      await loop.done;
      await http.close();
      await agent.close({ hard: true }).catch(() => undefined);
      await rec.close();
      await httpNc.close();
      await nc.close();
      await nats.dispose();
      await rm(tmp, { recursive: true, force: true });
    },
  };
}

/** One poll-under-a-deadline for every test (truthy result = found). */
export { until } from './until.ts';

/**
 * What following logs holds on the NATS server: subscriptions of connections
 * named `name` (monitoring endpoint /connz) and consumers on the logs stream.
 */
export async function followState(nats: NatsServer, name: string): Promise<{ subscriptions: number; consumers: number }> {
  const res = await fetch(`${nats.monitorUrl}/connz?subs=1`);
  const body = (await res.json()) as { connections: Array<{ name?: string; subscriptions_list?: string[] }> };
  const subscriptions = body.connections.filter((c) => c.name === name).reduce((n, c) => n + (c.subscriptions_list?.length ?? 0), 0);
  const js = await (await fetch(`${nats.monitorUrl}/jsz?streams=1`)).json() as { account_details?: Array<{ stream_detail?: Array<{ name: string; state: { consumer_count: number } }> }> };
  const consumers = js.account_details?.flatMap((a) => a.stream_detail ?? []).find((s) => s.name === STREAMS.logs)?.state.consumer_count ?? 0;
  return { subscriptions, consumers };
}
