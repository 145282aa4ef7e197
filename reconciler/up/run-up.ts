// `kiln up`: the whole loop on one machine. nats-server, one agent per pool
// (kiln.yaml's pools that build for this architecture) and, when registry
// distributions name loopback addresses, a docker-registry for each (up/registries.ts)
// run as child processes; the reconciler (watch mode) and the HTTP service run in
// this process, so /metrics sees the passes. Stopping: the agents drain
// (finishes its builds), the pass in progress ends, then the server and
// nats-server stop. Everything is kept under the state dir, so a second
// `kiln up DIR` resumes where the first one stopped.
import { createHash } from 'node:crypto';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { buildCounts, type BuildCounts } from '../pipeline/progress.ts';
import type { DesiredState } from '../model.ts';
import { desiredAtHead, openReconciler, type Reconciler } from '../reconciler-setup.ts';
import { serveReconciler, serviceMetrics } from '../http/reconciler-service.ts';
import type { HttpServer } from '../http/server.ts';
import type { PassReport } from '../pass.ts';
import { watch, type WatchSummary } from '../watch.ts';
import { startChild, waitForOutput, type Child } from './child-process.ts';
import { assertPrerequisites, checkPrerequisites } from './prerequisites.ts';
import { prepareState, upLayout } from './state-dir.ts';
import { localRegistryPlan, seedBaseImages, startRegistry } from './registries.ts';
import { writeUpRegistryCredentials } from './registry-credentials.ts';

const KILN_BIN = fileURLToPath(new URL('../../bin/kiln.js', import.meta.url));

export interface UpOptions {
  dir: string;
  repoDir?: string;
  signingKeyFile?: string;
  /** Of --signing-key's key, when it is protected ($KILN_SIGNING_PASSPHRASE). */
  passphrase?: string;
  host: string;
  port: number;
  /** 0: any free port. */
  natsPort: number;
  /** Pools of the local agents; none: every pool kiln.yaml declares for `arch`. */
  pools: string[];
  arch: string;
  concurrency: number;
  intervalSeconds: number;
  publicRead: boolean;
  tokensFile?: string;
}

export interface UpInfo {
  url: string;
  dashboard: string;
  api: string;
  metrics: string;
  repos: string;
  natsUrl: string;
  stateDir: string;
  repoDir: string;
  signingKeyFile: string;
  tokensFile: string;
  /** One local agent per pool. */
  agents: Array<{ id: string; pool: string; log: string }>;
  /** The OCI registries it runs (host:port) and the candidate the agents push to. */
  registries: string[];
  candidateRegistry?: string;
  /** This run's registry credentials files (containers-auth.json): the reconciler's opens every registry, the agents' the candidate only. */
  registryAuth?: { reconciler: string; agent?: string };
  created: string[];
}

export interface UpDeps {
  log: Logger;
  signal: AbortSignal;
  /** Told once everything is up. */
  onReady(info: UpInfo): void;
  onPass?(report: PassReport, reason: string, counts: BuildCounts): void;
}

async function startNatsServer(dir: string, port: number, logFile: string): Promise<{ child: Child; url: string }> {
  const child = startChild('nats-server', ['-js', '-a', '127.0.0.1', '-p', port === 0 ? '-1' : String(port), '-sd', dir], logFile);
  const m = await waitForOutput(child, /Listening for client connections on [^\s]*:(\d+)[\s\S]*Server is ready/, 15_000, 'nats-server');
  return { child, url: `nats://127.0.0.1:${m[1]}` };
}

/** kiln.yaml's pools (of the desired state at HEAD) that build for ARCH; `deb` when there are none yet (the first pass says why). */
function localPools(desired: DesiredState | undefined, arch: string, log: Logger): string[] {
  const declared = desired?.config.pools ?? {};
  const pools = Object.entries(declared).filter(([, p]) => (p.architectures as readonly string[]).includes(arch)).map(([name]) => name).sort();
  if (pools.length) return pools;
  log.warn({ arch, declared: Object.keys(declared) }, `kiln.yaml declares no pool for ${arch}: starting a 'deb' agent`);
  return ['deb'];
}

/**
 * A local agent's id: the same for a state dir on every start (a restarted agent sweeps its own
 * orphaned containers), different for another `kiln up` on this host (whose containers it must not touch).
 */
export function upAgentId(stateDir: string, pool: string, arch: string): string {
  return `up-${pool}-${arch}-${createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 8)}`;
}

/** One local agent of POOL: its own work dir and log (DIR/logs/agent-POOL.log). */
function startAgent(pool: string, o: UpOptions, natsUrl: string, layout: ReturnType<typeof upLayout>, candidate?: { host: string; authFile: string }): { id: string; pool: string; log: string; child: Child } {
  const id = upAgentId(layout.dir, pool, o.arch);
  const logFile = join(layout.logs, `agent-${pool}.log`);
  const child = startChild(
    process.execPath,
    [
      KILN_BIN, 'agent', '--nats', natsUrl, '--pool', pool, '--arch', o.arch, '--id', id, '--concurrency', String(o.concurrency), '--work-dir', join(layout.agent, pool),
      // Every local agent may build images (jobs go by pool): they push to the candidate only, the only registry their credentials open.
      ...(candidate ? ['--candidate-registry', candidate.host, '--registry-auth', candidate.authFile] : []),
    ],
    logFile,
  );
  return { id, pool, log: logFile, child };
}

export async function runUp(o: UpOptions, deps: UpDeps): Promise<{ summary: WatchSummary; info: UpInfo }> {
  const { log } = deps;
  assertPrerequisites(await checkPrerequisites({ docker: true }));
  const layout = upLayout(o.dir);
  const prepared = await prepareState(layout, { signingKeyFile: o.signingKeyFile, repoDir: o.repoDir });
  const tokensFile = o.tokensFile ?? layout.tokens;
  const stack: Array<() => Promise<unknown>> = [];
  /** Stops what started, newest first. */
  const stopAll = async () => {
    while (stack.length) await stack.pop()!().catch((e: Error) => log.warn({ err: e.message }, 'stopping'));
  };
  try {
    const nats = await startNatsServer(layout.nats, o.natsPort, join(layout.logs, 'nats.log'));
    stack.push(() => nats.child.stop(10_000));

    const desired = await desiredAtHead(prepared.repoDir, log);
    const registries = desired ? localRegistryPlan(desired) : { hosts: [], seeds: [] };
    if (registries.hosts.length) assertPrerequisites(await checkPrerequisites({ docker: false, registries: true }));
    const credentials = registries.hosts.length ? await writeUpRegistryCredentials(join(layout.dir, 'registries'), registries) : undefined;
    for (const host of registries.hosts) {
      const r = await startRegistry(host, join(layout.dir, 'registries'), layout.logs, credentials!.htpasswd.get(host)!);
      stack.push(() => r.child.stop(10_000));
    }

    const m = serviceMetrics();
    const rec: Reconciler = await openReconciler({
      repoDir: prepared.repoDir,
      natsUrl: nats.url,
      signingKey: { keyFile: prepared.signingKeyFile, passphrase: o.passphrase },
      reposDir: layout.repos,
      // The candidate is a loopback registry kiln up runs: plain http.
      candidateInsecure: registries.candidate !== undefined,
      candidateRegistry: registries.candidate,
      registryAuth: credentials?.reconciler,
      log,
      metrics: m.metrics,
    });
    stack.push(() => rec.close());
    const session = rec.session!;

    let wake: ((reason: string) => void) | undefined;
    const http: HttpServer = await serveReconciler(rec, m, { host: o.host, port: o.port, reposDir: layout.repos, tokensFile, publicRead: o.publicRead, log, wake: (r) => wake?.(r) });
    stack.push(() => http.close());
    // The agent runs on this host: it reaches buildFrom distributions here, unless kiln.yaml says otherwise.
    rec.deps.repoUrl = `${http.url}/repos`;

    const passes = new AbortController();
    const handle = watch(
      {
        runPass: () => rec.runPass({ leased: true }),
        readHead: () => rec.readHead(),
        resultsWaiting: () => session.resultsWaiting(),
        lease: rec.lease,
        onPass: (report, reason) => deps.onPass?.(report, reason, buildCounts(rec.memo.observed?.state)),
        log,
        signal: passes.signal,
        now: () => new Date(),
        random: Math.random,
      },
      { intervalMs: o.intervalSeconds * 1000 },
    );
    wake = (r) => handle.wake(r);
    // In the background (the first push of a debootstrap image takes ≈ 30 s): images FROM a seed wait meanwhile.
    if (registries.seeds.length && credentials) void seedBaseImages(registries.seeds, credentials.reconciler, log).then(() => handle.wake('base images seeded'));
    // Stopped after the agent drained (stack order); results it published are collected on the next start.
    stack.push(async () => {
      passes.abort();
      await handle.done;
    });

    // The agents start after the reconciler made the work queues (from kiln.yaml).
    const pools = o.pools.length ? o.pools : localPools(desired, o.arch, log);
    const candidate = registries.candidate && credentials?.agent ? { host: registries.candidate, authFile: credentials.agent.file } : undefined;
    const agents = pools.map((pool) => startAgent(pool, o, nats.url, layout, candidate));
    // Draining: each agent finishes what it builds (bounded by the build time limit).
    for (const a of agents) stack.push(() => a.child.stop(60 * 60_000));

    const info: UpInfo = {
      url: http.url,
      dashboard: `${http.url}/`,
      api: `${http.url}/api/v1/`,
      metrics: `${http.url}/metrics`,
      repos: `${http.url}/repos/`,
      natsUrl: nats.url,
      stateDir: layout.dir,
      repoDir: prepared.repoDir,
      signingKeyFile: prepared.signingKeyFile,
      tokensFile,
      agents: agents.map(({ id, pool, log: logFile }) => ({ id, pool, log: logFile })),
      registries: registries.hosts,
      ...(registries.candidate ? { candidateRegistry: registries.candidate } : {}),
      ...(credentials ? { registryAuth: { reconciler: credentials.reconciler.file, ...(credentials.agent ? { agent: credentials.agent.file } : {}) } } : {}),
      created: prepared.created,
    };
    deps.onReady(info);

    await new Promise<void>((resolve) => {
      if (deps.signal.aborted) return resolve();
      deps.signal.addEventListener('abort', () => resolve(), { once: true });
      for (const a of agents) {
        void a.child.exited.then((code) => {
          if (!deps.signal.aborted) {
            log.error({ code, agent: a.id, log: a.log }, 'an agent exited; stopping');
            resolve();
          }
        });
      }
    });
    log.info('stopping: the agents drain, then the reconciler, the HTTP server and nats-server stop');
    await stopAll(); // agents (drain), passes, HTTP, reconciler, nats-server
    return { summary: await handle.done, info };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
