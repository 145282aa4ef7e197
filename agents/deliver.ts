// Delivering a finished build: artifacts and log into the object store, then the
// BuildResult onto the results stream. Every step may be repeated (artifacts are
// content-addressed, the result is deduplicated by its message id), so a failed
// delivery is retried as a delivery, with the built files kept, and never turns
// into a rebuild; a bucket or stream found gone is made again between tries.
// When delivery still fails, that is reported as what it is (a result that could
// not be delivered), not as a failed build, nor left to end as "poison".
import { setTimeout as sleep } from 'node:timers/promises';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { INLINE_LOG_MAX, type BuildResult } from '../schema/messages.ts';
import { resultMsgId, SUBJECTS } from '../schema/nats.ts';
import { validators } from '../schema/validate.ts';
import { ensureDeliveryTopology } from './delivery-topology.ts';
import type { LogSummary } from './log-stream.ts';
import { uploadArtifacts, uploadLog } from './upload.ts';

export interface DeliveryPolicy {
  /** Tries before giving up (the first included). */
  tries: number;
  /** Delay after the first failed try, doubled each time up to capMs. */
  baseMs: number;
  capMs: number;
}

/** About half a minute of tries (1 + 2 + 4 + 8 + 16 s), well inside the job's ack wait kept alive by working(). */
export const DEFAULT_DELIVERY: DeliveryPolicy = { tries: 6, baseMs: 1000, capMs: 16_000 };

export interface DeliveryContext {
  nc: NatsConnection;
  js: JetStreamClient;
  os: ObjectStore;
  log: Logger;
  delivery?: DeliveryPolicy;
}

/** The result to deliver, before its artifacts and log are in the object store. */
export type DraftResult = Omit<BuildResult, 'artifacts' | 'log'>;

const schemaErrors = () => (validators.buildResult.errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message}`).join('; ');

export async function publishResult(ctx: Pick<DeliveryContext, 'js' | 'log'>, result: BuildResult): Promise<void> {
  if (!validators.buildResult(result)) throw new TypeError(`refusing to publish an invalid BuildResult: ${schemaErrors()}`);
  await sendResult(ctx, result);
}

/** Publish a result already validated (deduplicated by its message id). */
async function sendResult(ctx: Pick<DeliveryContext, 'js' | 'log'>, result: BuildResult): Promise<void> {
  const ack = await ctx.js.publish(SUBJECTS.result(result.key), JSON.stringify(result), { msgID: resultMsgId(result.key, result.attempt) });
  if (ack.duplicate) ctx.log.info({ key: result.key, attempt: result.attempt }, 'result already published by an earlier delivery; kept that one');
}

/**
 * Publish the result as it may be published: what the build put into it (file names,
 * say) can make it invalid, and that is the build's failure, not a reason to
 * deliver it again and again. A valid result is validated once, here.
 */
export async function publishAsPublishable(ctx: Pick<DeliveryContext, 'js' | 'log'>, result: BuildResult): Promise<void> {
  if (validators.buildResult(result as unknown)) return sendResult(ctx, result);
  const failed: BuildResult = { ...result, outcome: 'failed', failureClass: 'build', reason: `the build's result is not valid: ${schemaErrors()}`, artifacts: [] };
  delete failed.binaries;
  await publishResult(ctx, failed);
}

/** Pure: the whole log as text when it is small enough to travel in the result (INLINE_LOG_MAX) and is UTF-8 that reads back to the same bytes. */
export function carriedLogText(log: Pick<LogSummary, 'size' | 'bytes'>): string | undefined {
  if (!log.bytes || log.size > INLINE_LOG_MAX || log.bytes.length !== log.size) return undefined;
  const text = log.bytes.toString('utf8');
  return Buffer.byteLength(text) === log.size && Buffer.from(text).equals(log.bytes) ? text : undefined;
}

async function deliverOnce(ctx: DeliveryContext, draft: DraftResult, artifactPaths: string[], log: LogSummary, delivery: number): Promise<void> {
  // A small log is all in logTail (no object); else artifacts and log go up together. The result follows only once both are stored.
  const inline = carriedLogText(log);
  const [artifacts, object] = await Promise.all([
    draft.outcome === 'succeeded' ? uploadArtifacts(ctx.os, artifactPaths) : [],
    inline === undefined ? uploadLog(ctx.os, draft.key, draft.attempt, delivery, log) : undefined,
  ]);
  const logFields = inline === undefined ? { log: { sha256: log.sha256, size: log.size, object: object! } } : { log: { sha256: log.sha256, size: log.size }, logTail: inline };
  await publishAsPublishable(ctx, { ...draft, artifacts, ...logFields, finishedAt: new Date().toISOString() });
}

/**
 * Deliver, retrying as delivery. 'delivered': the result is published;
 * 'undeliverable': it could not be, and a failed result saying so (class infra:
 * the reconciler retries the build later) is published instead; throws when not
 * even that could be published (the caller hands the job back).
 */
export async function deliver(ctx: DeliveryContext, draft: DraftResult, artifactPaths: string[], log: LogSummary, delivery: number): Promise<'delivered' | 'undeliverable'> {
  const policy = ctx.delivery ?? DEFAULT_DELIVERY;
  let last: unknown;
  for (let n = 1; n <= policy.tries; n++) {
    try {
      await deliverOnce(ctx, draft, artifactPaths, log, delivery);
      return 'delivered';
    } catch (e) {
      last = e;
      ctx.log.warn({ err: (e as Error).message, try: n, of: policy.tries }, 'could not deliver the result; trying again');
      const made = await ensureDeliveryTopology(ctx.nc).catch(() => []);
      if (made.length) ctx.log.warn({ made }, `made again what delivery needs: ${made.join(', ')}`);
      if (n < policy.tries) await sleep(Math.min(policy.baseMs * 2 ** (n - 1), policy.capMs));
    }
  }
  const reason = `the build ${draft.outcome}, but its result could not be delivered after ${policy.tries} tries: ${(last as Error).message}`;
  const failed: BuildResult = { ...draft, outcome: 'failed', failureClass: 'infra', reason, artifacts: [], finishedAt: new Date().toISOString() };
  delete failed.binaries;
  await publishResult(ctx, failed);
  return 'undeliverable';
}
