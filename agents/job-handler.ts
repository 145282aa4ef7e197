// One job, start to finish: validate → (poison?) → fetch source → run →
// upload artifacts and log → publish the BuildResult → ackAck. The result is
// published with Nats-Msg-Id `${key}.${attempt}.result`, so if the agent dies
// between publish and ack, the redelivered job's result is dropped as a duplicate.
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { nuid } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { BuildJob, BuildResult } from '../schema/messages.ts';
import { resultMsgId, SUBJECTS } from '../schema/nats.ts';
import { validators } from '../schema/validate.ts';
import { classify, classifyError, tail, type Verdict } from './classify.ts';
import { fetchSource } from './fetch-source.ts';
import type { JobOutcome } from './metrics.ts';
import { BuildLog } from './log-stream.ts';
import type { BuildRunner, RunOutcome, WorkDir } from './runner.ts';
import { uploadArtifacts, uploadLog, type UploadedArtifact } from './upload.ts';

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
}

/** Pure: is this delivery the last one the server will make? Then report instead of building. */
export function isFinalDelivery(deliveryCount: number, maxDeliver: number): boolean {
  return maxDeliver > 1 && deliveryCount >= maxDeliver;
}

function describeInvalid(data: Uint8Array): { raw: Record<string, unknown> | undefined; reason: string } {
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(data).toString('utf8'));
  } catch (e) {
    return { raw: undefined, reason: `job is not JSON: ${(e as Error).message}` };
  }
  if (validators.buildJob(raw)) return { raw: raw as Record<string, unknown>, reason: '' };
  const errs = (validators.buildJob.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
  return { raw: typeof raw === 'object' && raw !== null ? (raw as Record<string, unknown>) : undefined, reason: `invalid BuildJob: ${errs}` };
}

async function publishResult(ctx: JobContext, result: BuildResult): Promise<void> {
  if (!validators.buildResult(result)) {
    const errs = (validators.buildResult.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');
    throw new TypeError(`refusing to publish an invalid BuildResult: ${errs}`);
  }
  const ack = await ctx.js.publish(SUBJECTS.result(result.key), JSON.stringify(result), { msgID: resultMsgId(result.key, result.attempt) });
  if (ack.duplicate) ctx.log.info({ key: result.key, attempt: result.attempt }, 'result already published by an earlier delivery; kept that one');
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

/** Handle one delivered message. Never throws; on infrastructure trouble the job is nak'ed for a later retry. */
export async function handleJob(ctx: JobContext, msg: JsMsg, running: Set<string>): Promise<JobOutcome> {
  const { raw, reason } = describeInvalid(msg.data);
  if (reason) {
    await poison(ctx, msg, raw, reason).catch((e: unknown) => ctx.log.error({ err: e }, 'could not report poison job'));
    return 'poison';
  }
  const job = raw as unknown as BuildJob;
  const delivery = msg.info.deliveryCount;
  const log = ctx.log.child({ buildKey: job.key, attempt: job.attempt, delivery, package: job.inputs.package });
  if (isFinalDelivery(delivery, ctx.maxDeliver)) {
    const why = `delivered ${delivery} times without a result (agents crashed or lost it each time)`;
    await poison(ctx, msg, raw, why).catch((e: unknown) => log.error({ err: e }, 'could not report poison job'));
    return 'poison';
  }

  running.add(job.key);
  const keepAlive = setInterval(() => msg.working(), Math.max(500, Math.floor(ctx.ackWaitMs / 3)));
  const root = join(ctx.workDir, `${job.key.slice(0, 16)}-${job.attempt}-${nuid.next()}`);
  const started = new Date();
  let blog: BuildLog | undefined;
  try {
    await mkdir(root, { recursive: true });
    blog = new BuildLog(ctx.nc, job.key, job.attempt, join(root, 'build.log'), log);
    blog.write(`kiln: build ${job.key} attempt ${job.attempt} (delivery ${delivery}) of ${job.inputs.package} ${job.inputs.version} on ${ctx.agentId}\n`);
    const timings: Timings = {};
    const { run, verdict, artifacts } = await build(ctx, job, root, blog, log, timings);
    const phases = Object.entries(timings).map(([k, ms]) => `${k} ${(ms / 1000).toFixed(1)} s`).join(', ');
    blog.write(`kiln: ${verdict.outcome}${verdict.reason ? `: ${verdict.reason}` : ''} in ${((Date.now() - started.getTime()) / 1000).toFixed(1)} s (${phases})\n`);
    const summary = await blog.finish(verdict.outcome);
    const t0 = Date.now();
    const object = await uploadLog(ctx.os, job.key, job.attempt, delivery, summary.path, summary.sha256);
    const result: BuildResult = {
      v: 1, key: job.key, attempt: job.attempt, inputs: job.inputs, pool: job.pool,
      ...(job.desiredCommit ? { desiredCommit: job.desiredCommit } : {}),
      agent: ctx.agentId, outcome: verdict.outcome,
      ...(verdict.failureClass ? { failureClass: verdict.failureClass } : {}),
      ...(verdict.reason ? { reason: verdict.reason } : {}),
      ...(verdict.error ? { error: verdict.error } : {}),
      exitCode: run.exitCode, oomKilled: run.oomKilled, timedOut: run.timedOut,
      artifacts, log: { sha256: summary.sha256, size: summary.size, object }, logTail: tail(summary.tailText),
      startedAt: started.toISOString(), finishedAt: new Date().toISOString(),
    };
    await publishResult(ctx, result);
    const acked = await msg.ackAck().catch(() => false);
    if (!acked) log.warn('ack not confirmed; a redelivery will find the result already published');
    timings.record = Date.now() - t0;
    log.info(
      { outcome: verdict.outcome, failureClass: verdict.failureClass, ms: Date.now() - started.getTime(), timings, artifacts: artifacts.length, maxDeliver: ctx.maxDeliver },
      'build finished',
    );
    return verdict.outcome;
  } catch (e) {
    await blog?.abandon().catch(() => undefined);
    // Could not record the outcome (object store or NATS trouble): let the job come back later.
    log.error({ err: e }, 'could not publish the build result; job will be redelivered');
    try {
      msg.nak(5000);
    } catch {
      // Connection gone: the ack wait expires and the server redelivers anyway.
    }
    return 'requeued';
  } finally {
    clearInterval(keepAlive);
    running.delete(job.key);
    await rm(root, { recursive: true, force: true }).catch((e: unknown) => log.warn({ err: e, root }, 'could not remove work dir'));
  }
}

/** Fetch, run, upload. Failures here become a failed result (they are the build's story), never an exception. */
/** Milliseconds spent per phase: source, run, upload, record. */
type Timings = Record<string, number>;

async function timed<T>(timings: Timings, phase: string, f: () => Promise<T>): Promise<T> {
  const t0 = Date.now();
  try {
    return await f();
  } finally {
    timings[phase] = Date.now() - t0;
  }
}

async function build(ctx: JobContext, job: BuildJob, root: string, blog: BuildLog, log: Logger, timings: Timings): Promise<{ run: RunOutcome; verdict: Verdict; artifacts: UploadedArtifact[] }> {
  const failed = (verdict: Verdict): { run: RunOutcome; verdict: Verdict; artifacts: UploadedArtifact[] } => {
    blog.write(`kiln: ${verdict.reason}\n`);
    return { run: { exitCode: -1, oomKilled: false, timedOut: false, artifacts: [] }, verdict, artifacts: [] };
  };
  const work: WorkDir = { root: join(root, 'work') };
  await mkdir(work.root, { recursive: true });
  let run: RunOutcome;
  try {
    if (ctx.runner.needsSource) {
      const src = await timed(timings, 'source', () => fetchSource(job.inputs.source, join(work.root, 'src'), join(root, 'scratch'), log, { cacheDir: ctx.sourceCacheDir }));
      blog.write(`kiln: source ${job.inputs.source.url} at ${src.commit} (${src.files} files)\n`);
      work.sourceDir = src.dir;
      work.buildDir = src.buildDir;
    }
    run = await timed(timings, 'run', () => ctx.runner.run(job, work, { onLog: (b) => blog.write(b), signal: ctx.hardStop }));
  } catch (e) {
    const verdict = classifyError(e);
    log.warn({ err: e, failureClass: verdict.failureClass }, 'build could not run');
    return failed(verdict);
  }
  const verdict = classify(run, job.limits);
  if (verdict.outcome !== 'succeeded') return { run, verdict, artifacts: [] };
  try {
    return { run, verdict, artifacts: await timed(timings, 'upload', () => uploadArtifacts(ctx.os, run.artifacts)) };
  } catch (e) {
    return failed({ outcome: 'failed', failureClass: 'infra', reason: `could not upload artifacts: ${(e as Error).message}` });
  }
}
