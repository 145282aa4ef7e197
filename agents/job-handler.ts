// One job, start to finish: validate → (poison?) → fetch source → run →
// deliver (artifacts and log into the object store, the BuildResult onto the
// results stream: deliver.ts) → ack. The result is published with Nats-Msg-Id
// `${key}.${attempt}.result`, so if the agent dies between publish and ack (or the
// ack is lost), the redelivered job's result is dropped as a duplicate. That is why
// the ack needs no confirmation (a round trip per job): nothing would be done with it.
import { mkdir, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { nuid } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { BuildJob, BuildResult } from '../schema/messages.ts';
import { resultMsgId } from '../schema/nats.ts';
import { artifactSchema } from '../schema/status.ts';
import { validators } from '../schema/validate.ts';
import { classify, classifyError, tail, type Verdict } from './classify.ts';
import { declaredBinaries } from './declared-binaries.ts';
import { fetchSource } from './fetch-source.ts';
import { BuildLog, type LogSummary } from './log-stream.ts';
import type { JobOutcome } from './metrics.ts';
import type { BuildRunner, RunOutcome, WorkDir } from './runner.ts';
import { deliver, publishResult, type DeliveryPolicy, type DraftResult } from './deliver.ts';

export interface JobContext {
  nc: NatsConnection;
  js: JetStreamClient;
  os: ObjectStore;
  runner: BuildRunner;
  agentId: string;
  pool: string;
  workDir: string;
  /** Where remote source clones are kept between jobs (private to this agent). */
  sourceCacheDir?: string;
  /** The consumer's ack wait; working() is sent three times per period. */
  ackWaitMs: number;
  /** The consumer's max_deliver (-1: unbounded). */
  maxDeliver: number;
  /** Aborted only on a hard stop: kills running containers. */
  hardStop: AbortSignal;
  log: Logger;
  /** How a finished build's result delivery is retried (default DEFAULT_DELIVERY). */
  delivery?: DeliveryPolicy;
  /** Builds whose results could not be delivered, by result message id (see KeptBuild); absent: none are kept. */
  undelivered?: Map<string, KeptBuild>;
}

/** Pure: is this delivery the last one the server will make? Then report instead of building. */
export function isFinalDelivery(deliveryCount: number, maxDeliver: number): boolean {
  return maxDeliver > 1 && deliveryCount >= maxDeliver;
}

const utf8 = new TextDecoder();

function describeInvalid(data: Uint8Array): { raw: Record<string, unknown> | undefined; reason: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(utf8.decode(data));
  } catch (e) {
    return { raw: undefined, reason: `job is not JSON: ${(e as Error).message}` };
  }
  if (validators.buildJob(raw)) return { raw: raw as Record<string, unknown>, reason: '' };
  const errs = (validators.buildJob.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
  return { raw: typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : undefined, reason: `invalid BuildJob: ${errs}` };
}

/** A job that can never be built: report it as 'poison' (when it names a key) and terminate it. */
async function poison(ctx: JobContext, msg: JsMsg, raw: Record<string, unknown> | undefined, reason: string): Promise<void> {
  const now = new Date().toISOString();
  const result = {
    v: 1, key: raw?.key, attempt: raw?.attempt, inputs: raw?.inputs, pool: raw?.pool ?? ctx.pool,
    ...(typeof raw?.desiredCommit === 'string' ? { desiredCommit: raw.desiredCommit } : {}),
    agent: ctx.agentId, outcome: 'failed', failureClass: 'poison', reason, artifacts: [], startedAt: now, finishedAt: now,
  };
  if (validators.buildResult(result)) await publishResult(ctx, result as BuildResult);
  else ctx.log.error({ reason, seq: msg.seq }, 'poison job names no valid key/inputs; terminated without a result');
  // term() without a reason: term(reason) is a silent no-op on nats-server 2.9.
  msg.term();
  ctx.log.warn({ key: raw?.key, reason }, 'poison job terminated');
}

/**
 * A finished build whose result could not be delivered at all (not even as a
 * failure): its files stay in `root` for the job's next delivery to this agent,
 * which delivers them instead of building again.
 */
export interface KeptBuild {
  root: string;
  draft: DraftResult;
  artifacts: string[];
  log: LogSummary;
}

/** Builds kept at most: each holds its files on disk until delivered or evicted. */
const MAX_KEPT = 8;

async function keep(kept: Map<string, KeptBuild>, id: string, build: KeptBuild): Promise<void> {
  kept.delete(id);
  kept.set(id, build);
  for (const [oldId, old] of kept) {
    if (kept.size <= MAX_KEPT) break;
    kept.delete(oldId);
    await rm(old.root, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Where the runner works, inside the job's directory (beside its log and scratch space). */
const workRootOf = (root: string) => join(root, 'work');

/** Build the job in `root` and close its log: everything delivery needs. */
async function produce(ctx: JobContext, job: BuildJob, root: string, delivery: number, log: Logger, timings: Timings): Promise<KeptBuild> {
  const started = new Date();
  // One call makes the job's directory and its work directory (build() uses it as made here).
  await mkdir(workRootOf(root), { recursive: true });
  const blog = new BuildLog(ctx.nc, job.key, job.attempt, join(root, 'build.log'), log);
  try {
    blog.write(`kiln: build ${job.key} attempt ${job.attempt} (delivery ${delivery}) of ${job.inputs.package} ${job.inputs.version} on ${ctx.agentId}\n`);
    const { run, verdict, binaries } = await build(ctx, job, root, blog, log, timings);
    const phases = Object.entries(timings).map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)} s`).join(', ');
    blog.write(`kiln: ${verdict.outcome}${verdict.reason ? `: ${verdict.reason}` : ''} in ${((Date.now() - started.getTime()) / 1000).toFixed(1)} s (${phases})\n`);
    const summary = await blog.finish(verdict.outcome);
    const draft: DraftResult = {
      v: 1, key: job.key, attempt: job.attempt, inputs: job.inputs, pool: job.pool,
      ...(job.desiredCommit ? { desiredCommit: job.desiredCommit } : {}),
      agent: ctx.agentId, outcome: verdict.outcome,
      ...(verdict.failureClass ? { failureClass: verdict.failureClass } : {}),
      ...(verdict.reason ? { reason: verdict.reason } : {}),
      ...(verdict.error ? { error: verdict.error } : {}),
      exitCode: run.exitCode, oomKilled: run.oomKilled, timedOut: run.timedOut,
      ...(binaries ? { binaries } : {}), ...(run.image && verdict.outcome === 'succeeded' ? { image: run.image } : {}), logTail: tail(summary.tailText),
      startedAt: started.toISOString(), finishedAt: new Date().toISOString(),
    };
    return { root, draft, artifacts: verdict.outcome === 'succeeded' ? run.artifacts : [], log: summary };
  } catch (e) {
    await blog.abandon().catch(() => undefined);
    throw e;
  }
}

/** Handle one delivered message. Never throws; when no result at all can be published, the job is nak'ed for a later retry. */
export async function handleJob(ctx: JobContext, msg: JsMsg, running: Set<string>): Promise<JobOutcome> {
  const { raw, reason } = describeInvalid(msg.data);
  if (reason) {
    await poison(ctx, msg, raw, reason).catch((e: unknown) => ctx.log.error({ err: e }, 'could not report poison job'));
    return 'poison';
  }
  const job = raw as unknown as BuildJob;
  const delivery = msg.info.deliveryCount;
  const log = ctx.log.child({ buildKey: job.key, attempt: job.attempt, delivery, package: job.inputs.package });
  const id = resultMsgId(job.key, job.attempt);
  let produced = ctx.undelivered?.get(id);
  if (!produced && isFinalDelivery(delivery, ctx.maxDeliver)) {
    const why = `delivered ${delivery} times without a result (agents crashed or lost it each time)`;
    await poison(ctx, msg, raw, why).catch((e: unknown) => log.error({ err: e }, 'could not report poison job'));
    return 'poison';
  }

  running.add(job.key);
  const keepAlive = setInterval(() => msg.working(), Math.max(500, Math.floor(ctx.ackWaitMs / 3)));
  const root = produced?.root ?? join(ctx.workDir, `${job.key.slice(0, 16)}-${job.attempt}-${nuid.next()}`);
  const started = Date.now();
  const timings: Timings = {};
  let kept = false;
  try {
    if (produced) log.info('delivering the build kept from an earlier delivery: not built again');
    produced ??= await produce(ctx, job, root, delivery, log, timings);
    const built = produced;
    const delivered = await timed(timings, 'deliver', () => deliver({ ...ctx, log }, built.draft, built.artifacts, built.log, delivery));
    try {
      msg.ack();
    } catch (e) {
      log.warn({ err: e }, 'could not ack (connection gone); a redelivery will find the result already published');
    }
    log.info(
      { outcome: built.draft.outcome, failureClass: built.draft.failureClass, delivered, ms: Date.now() - started, timings, artifacts: built.artifacts.length, maxDeliver: ctx.maxDeliver },
      'build finished',
    );
    return built.draft.outcome;
  } catch (e) {
    // Not even a failure could be reported (the results stream unreachable): the job comes back later,
    // and finds what was built here if it comes back to this agent.
    kept = produced !== undefined && ctx.undelivered !== undefined;
    if (kept) await keep(ctx.undelivered!, id, produced!);
    log.error({ err: e, kept }, 'could not publish any build result; job will be redelivered');
    try {
      msg.nak(5000);
    } catch {
      // Connection gone: the ack wait expires and the server redelivers anyway.
    }
    return 'requeued';
  } finally {
    clearInterval(keepAlive);
    running.delete(job.key);
    if (!kept) {
      ctx.undelivered?.delete(id);
      await rm(root, { recursive: true, force: true }).catch((e: unknown) => log.warn({ err: e, root }, 'could not remove work dir'));
    }
  }
}

/** Milliseconds spent per phase: source, run, deliver. */
type Timings = Record<string, number>;

async function timed<T>(timings: Timings, phase: string, f: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await f();
  } finally {
    timings[phase] = Date.now() - t0;
  }
}

interface Built {
  /** Its artifacts are delivered only when the verdict is a success. */
  run: RunOutcome;
  verdict: Verdict;
  /** What debian/control declares, read before the build ran. */
  binaries?: string[];
}

const ARTIFACT_NAME = new RegExp(artifactSchema.properties.name.pattern);

/** Pure: a success whose files cannot be named in a result (a space, a slash, a leading dot) is the build's failure. */
export function nameVerdict(verdict: Verdict, artifacts: string[]): Verdict {
  const bad = artifacts.map((p) => basename(p)).filter((n) => !ARTIFACT_NAME.test(n));
  if (verdict.outcome !== 'succeeded' || bad.length === 0) return verdict;
  const shown = bad.slice(0, 5).map((n) => JSON.stringify(n)).join(', ');
  return { outcome: 'failed', failureClass: 'build', reason: `the build produced ${shown}: artifact names are letters, digits and . _ + ~ - (not first)` };
}

/** Fetch and run. Failures here become a failed verdict (they are the build's story), never an exception. */
async function build(ctx: JobContext, job: BuildJob, root: string, blog: BuildLog, log: Logger, timings: Timings): Promise<Built> {
  const failed = (verdict: Verdict): Built => {
    blog.write(`kiln: ${verdict.reason}\n`);
    return { run: { exitCode: -1, oomKilled: false, timedOut: false, artifacts: [] }, verdict };
  };
  const work: WorkDir = { root: workRootOf(root) };
  let run: RunOutcome;
  let binaries: string[] | undefined;
  try {
    if (ctx.runner.needsSource) {
      const src = await timed(timings, 'source', () => fetchSource(job.inputs.source, join(work.root, 'src'), join(root, 'scratch'), log, { cacheDir: ctx.sourceCacheDir }));
      blog.write(`kiln: source ${job.inputs.source.url} at ${src.commit} (${src.files} files)\n`);
      work.sourceDir = src.dir;
      work.buildDir = src.buildDir;
      binaries = await declaredBinaries(src.buildDir);
    }
    run = await timed(timings, 'run', () => ctx.runner.run(job, work, { onLog: (b) => blog.write(b), signal: ctx.hardStop }));
  } catch (e) {
    const verdict = classifyError(e);
    log.warn({ err: e, failureClass: verdict.failureClass }, 'build could not run');
    return failed(verdict);
  }
  const classified = classify(run, job.limits);
  const verdict = nameVerdict(classified, run.artifacts);
  if (verdict !== classified) blog.write(`kiln: ${verdict.reason}\n`);
  return { run, verdict, binaries };
}
