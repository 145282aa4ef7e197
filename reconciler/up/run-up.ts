// `kiln up`: the whole loop on one machine. nats-server and one agent run as
// child processes; the reconciler (watch mode) and the HTTP service run in
// this process, so /metrics sees the passes. Stopping: the agent drains
// (finishes its builds), the pass in progress ends, then the server and
// nats-server stop. Everything is kept under the state dir, so a second
// `kiln up DIR` resumes where the first one stopped.
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from 'pino';
import { buildCounts, type BuildCounts } from '../pipeline/progress.ts';
import { openReconciler, type Reconciler } from '../reconciler-setup.ts';
import { serveReconciler, serviceMetrics } from '../http/reconciler-service.ts';
import type { HttpServer } from '../http/server.ts';
import type { PassReport } from '../pass.ts';
import { watch, type WatchSummary } from '../watch.ts';
import { startChild, waitForOutput, type Child } from './child-process.ts';
import { assertPrerequisites, checkPrerequisites } from './prerequisites.ts';
import { prepareState, upLayout } from './state-dir.ts';

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
  pool: string;
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
  agentId: string;
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

    const m = serviceMetrics();
    const rec: Reconciler = await openReconciler({
      repoDir: prepared.repoDir,
      natsUrl: nats.url,
      signingKey: { keyFile: prepared.signingKeyFile, passphrase: o.passphrase },
      reposDir: layout.repos,
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
    // Stopped after the agent drained (stack order); results it published are collected on the next start.
    stack.push(async () => {
      passes.abort();
      await handle.done;
    });

    // The agent starts after the reconciler made the work queues (from kiln.yaml).
    const agentId = `up-${o.pool}-${o.arch}`;
    const agent = startChild(
      process.execPath,
      [KILN_BIN, 'agent', '--nats', nats.url, '--pool', o.pool, '--arch', o.arch, '--id', agentId, '--concurrency', String(o.concurrency), '--work-dir', layout.agent],
      join(layout.logs, 'agent.log'),
    );
    // Draining: the agent finishes what it builds (bounded by the build time limit).
    stack.push(() => agent.stop(60 * 60_000));

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
      agentId,
      created: prepared.created,
    };
    deps.onReady(info);

    await new Promise<void>((resolve) => {
      if (deps.signal.aborted) return resolve();
      deps.signal.addEventListener('abort', () => resolve(), { once: true });
      void agent.exited.then((code) => {
        if (!deps.signal.aborted) {
          log.error({ code, log: join(layout.logs, 'agent.log') }, 'the agent exited; stopping');
          resolve();
        }
      });
    });
    log.info('stopping: the agent drains, then the reconciler, the HTTP server and nats-server stop');
    await stopAll(); // agent (drains), passes, HTTP, reconciler, nats-server
    return { summary: await handle.done, info };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
