// Collect: pull build results from the reconciler's durable consumer and check
// every artifact they claim against the object store before anything is
// recorded. A result is acked only by the caller, after its status commit.
import { createHash } from 'node:crypto';
import { stat } from 'node:fs/promises';
import type { JetStreamClient, JetStreamManager, JsMsg } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import type { Logger } from 'pino';
import type { BuildResult } from '../../schema/messages.ts';
import { OBJECTS, RESULTS_CONSUMER, STREAMS, SUBJECTS } from '../../schema/nats.ts';
import type { FailureClass } from '../../schema/status.ts';
import { assertValid } from '../../schema/validate.ts';
import { withLogLines } from '../records/inline-log.ts';

import { fetchArtifact } from './artifact-cache.ts';
import { readArtifactChunks } from './object-read.ts';
import pMap from 'p-map';

export { fetchArtifact };

export interface PendingResult {
  result: BuildResult;
  /** How many times this message was delivered (1: first time). */
  deliveries: number;
  /** Acknowledge, waiting for the server's confirmation (call only once the outcome is in git). */
  ack(): Promise<void>;
  /** Acknowledge without waiting for a confirmation (only once the outcome is in git; see ackAll). */
  ackNoWait(): void;
  /** Hand it back for redelivery (after `delayMs`). */
  nak(delayMs?: number): void;
  /** Never deliver it again. */
  term(): void;
}

export interface FetchResultsOptions {
  max: number;
  /** How long to wait for messages that are pending but not deliverable yet (≥ 1000). */
  expiresMs: number;
  log?: Logger;
  /**
   * Take only results that were never delivered (num_pending), never waiting for ones out for
   * redelivery: a later fetch of the same pass (draining a burst) holds its own earlier ones unacked.
   */
  onlyNew?: boolean;
  /** Told when the consumer hands out no more before some are acked (max_ack_pending reached). */
  onNoRoom?: () => void;
}

const decoder = new TextDecoder();

/** Parse and validate one message; null (and terminated) when it is not a BuildResult. */
function parseResult(m: JsMsg, log?: Logger): BuildResult | null {
  try {
    const result = assertValid('buildResult', JSON.parse(decoder.decode(m.data)));
    if (m.subject !== SUBJECTS.result(result.key)) throw new TypeError(`subject ${m.subject} does not match key ${result.key}`);
    return result;
  } catch (e) {
    // A malformed message can never become valid: drop it for good, loudly. Bare
    // term(): term(reason) is a silent no-op on nats-server 2.9.
    log?.error({ subject: m.subject, seq: m.seq, err: (e as Error).message }, 'invalid build result dropped');
    m.term();
    return null;
  }
}

function pending(m: JsMsg, result: BuildResult): PendingResult {
  return {
    result,
    deliveries: m.info.deliveryCount,
    ack: async () => {
      await m.ackAck();
    },
    ackNoWait: () => m.ack(),
    nak: (delayMs) => m.nak(delayMs),
    term: () => m.term(),
  };
}

/**
 * Up to `max` results. Returns at once when nothing is waiting; waits up to
 * `expiresMs` only when results are out for redelivery (e.g. held by a
 * reconciler that died before acking).
 */
export async function fetchResults(js: JetStreamClient, opts: FetchResultsOptions): Promise<PendingResult[]> {
  const consumer = await js.consumers.get(STREAMS.results, RESULTS_CONSUMER);
  const info = await consumer.info(true);
  const waiting = info.num_pending + (opts.onlyNew ? 0 : info.num_ack_pending);
  if (waiting === 0) return [];
  // Never ask for more than the server will hand out at once (max_ack_pending),
  // or the fetch would sit until it expires waiting for the rest.
  const ackRoom = info.config.max_ack_pending && info.config.max_ack_pending > 0 ? info.config.max_ack_pending - info.num_ack_pending : Infinity;
  if (ackRoom <= 0) opts.onNoRoom?.();
  if (opts.onlyNew && ackRoom <= 0) return [];
  const want = Math.min(opts.max, waiting, Math.max(1, ackRoom));
  const out: PendingResult[] = [];
  const iter = await consumer.fetch({ max_messages: want, expires: Math.max(1000, opts.expiresMs) });
  for await (const m of iter) {
    const result = parseResult(m, opts.log);
    if (result) out.push(pending(m, result));
  }
  return out;
}

/**
 * Acknowledge results whose outcomes are in git with one round trip: every ack but the last
 * goes unconfirmed, the last is confirmed. The server applies a consumer's acks in the order
 * they arrive on the connection, so the others are applied once the last one is confirmed; an
 * ack lost with the connection fails the confirmation, and its result is redelivered and
 * recorded again, idempotently (at least once, as with one confirmation per ack).
 */
export async function ackAll(pending: PendingResult[]): Promise<void> {
  const last = pending.at(-1);
  for (const p of pending.slice(0, -1)) p.ackNoWait();
  await last?.ack();
}

export interface ArtifactCheck {
  name: string;
  sha256: string;
  problem?: string;
  /** The problem is that the object is not there (lost, e.g. with a deleted bucket), not that its bytes are wrong. */
  missing?: boolean;
}

const missingCheck = (a: { name: string; sha256: string }): ArtifactCheck => ({
  name: a.name,
  sha256: a.sha256,
  problem: `artifact ${a.name} (sha256 ${a.sha256}) is missing from the object store`,
  missing: true,
});

/** Hash the object's bytes as stored; `problem` says what is wrong, if anything. */
export async function checkArtifact(objectStore: ObjectStore, a: { name: string; sha256: string; size: number }, jsm?: JetStreamManager): Promise<ArtifactCheck> {
  const chunks = await readArtifactChunks(objectStore, a.sha256, jsm);
  if (!chunks) return missingCheck(a);
  const hash = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of chunks) {
      hash.update(chunk);
      size += chunk.length;
    }
  } catch (e) {
    return { name: a.name, sha256: a.sha256, problem: `artifact ${a.name}: reading it from the object store failed: ${(e as Error).message}` };
  }
  const got = hash.digest('hex');
  if (got !== a.sha256) return { name: a.name, sha256: a.sha256, problem: `artifact ${a.name}: stored bytes hash to sha256 ${got}, not the claimed ${a.sha256}` };
  if (size !== a.size) return { name: a.name, sha256: a.sha256, problem: `artifact ${a.name}: stored size ${size} bytes, not the claimed ${a.size}` };
  return { name: a.name, sha256: a.sha256 };
}

/**
 * Like checkArtifact, but downloads into the content-addressed cache on the way
 * (one read of the object serves both the check and the publisher/signer).
 */
export async function checkAndCacheArtifact(objectStore: ObjectStore, a: { name: string; sha256: string; size: number }, cacheDir: string, jsm?: JetStreamManager): Promise<ArtifactCheck> {
  let path: string;
  try {
    path = await fetchArtifact(objectStore, a.sha256, cacheDir, { jsm });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'KILN_ARTIFACT_MISSING') return missingCheck(a);
    if (code === 'KILN_DIGEST_MISMATCH') return { name: a.name, sha256: a.sha256, problem: `artifact ${a.name}: stored bytes hash to sha256 ${String((e as { data?: { got?: string } }).data?.got)}, not the claimed ${a.sha256}` };
    throw e;
  }
  const size = (await stat(path)).size;
  if (size !== a.size) return { name: a.name, sha256: a.sha256, problem: `artifact ${a.name}: stored size ${size} bytes, not the claimed ${a.size}` };
  return { name: a.name, sha256: a.sha256 };
}

export interface VerifyOptions {
  /** Download verified artifacts into this content-addressed cache (see fetchArtifact) while checking them. */
  cacheDir?: string;
  /** Enables the fast read of one-chunk objects (see object-read.ts). */
  jsm?: JetStreamManager;
}

/**
 * The result as it may be recorded: a success whose artifacts are all present
 * with the claimed digest and size, or else a failure (never a success): class
 * 'integrity' when bytes differ from what was claimed, 'infra' when artifacts are
 * only missing (lost with their bucket, say: built again later, like any lost
 * work). Failed results pass through unchanged.
 */
export async function verifyArtifacts(objectStore: ObjectStore, result: BuildResult, opts: VerifyOptions = {}): Promise<BuildResult> {
  if (result.outcome !== 'succeeded') return result;
  // An oci success claims an image instead (read back from its registry before it is recorded: oci-result.ts).
  if (result.artifacts.length === 0 && !result.image) return asFailedResult(result, 'integrity', 'integrity check failed', ['a successful build claimed no artifacts']);
  const checks = await Promise.all(
    result.artifacts.map((a) => (opts.cacheDir ? checkAndCacheArtifact(objectStore, a, opts.cacheDir, opts.jsm) : checkArtifact(objectStore, a, opts.jsm))),
  );
  return judgeChecks(result, checks);
}

/** A claimed success judged by its artifacts' checks: itself when all passed, else a failure of class infra (only missing) or integrity. */
export function judgeChecks(result: BuildResult, checks: ArtifactCheck[]): BuildResult {
  const problems = checks.flatMap((c) => (c.problem ? [c.problem] : []));
  if (problems.length === 0) return result;
  if (checks.every((c) => !c.problem || c.missing)) return asFailedResult(result, 'infra', 'artifacts lost', problems);
  return asFailedResult(result, 'integrity', 'integrity check failed', problems);
}

/** verifyArtifacts over many results, `concurrency` at a time, in order. */
export async function verifyResults(objectStore: ObjectStore, results: BuildResult[], opts: VerifyOptions & { concurrency?: number } = {}): Promise<BuildResult[]> {
  return pMap(results, (r) => verifyArtifacts(objectStore, r, opts), { concurrency: Math.max(1, opts.concurrency ?? 16) });
}

/** A claimed success recorded as a failure of class `cls` instead, its problems in the reason and the log tail. */
export function asFailedResult(result: BuildResult, cls: FailureClass, what: string, problems: string[]): BuildResult {
  const { artifacts: _a, ...rest } = result;
  return {
    ...rest,
    outcome: 'failed',
    failureClass: cls,
    reason: `${what}: ${problems.join('; ')}`,
    artifacts: [],
    ...withLogLines(result, problems.map((p) => `kiln: ${p}`)),
  };
}
