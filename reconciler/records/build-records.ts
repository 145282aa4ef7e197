// Pure transitions of a build record (builds/<key>.yaml on the status branch):
// dispatched → queued; a result → succeeded / failed (retryable or final).
// No I/O: the caller reads the record, applies one of these, and commits it.
import type { BuildAction } from '../model.ts';
import type { BuildResult } from '../../schema/messages.ts';
import type { BuildAttempt, BuildRecord } from '../../schema/status.ts';
import { backoff } from '../../schema/retry.ts';
import { classifyFailure, describeFailure, isRetryable } from './failures.ts';
import { recordLog } from './inline-log.ts';

export interface RetryPolicy {
  /** Total attempts allowed for retryable (infra) failures, including the first. */
  maxAttempts: number;
  backoff: { baseMs: number; capMs: number; jitter?: number };
}

/** The last bytes of a build log kept on the record's failure (the full log is in the object store, or in `log.lines`). */
export const LOG_TAIL_MAX = 4000;

export function tail(text: string | undefined, max = LOG_TAIL_MAX): string | undefined {
  if (text === undefined) return undefined;
  return text.length <= max ? text : text.slice(text.length - max);
}

function withoutOutcome(r: BuildRecord): BuildRecord {
  const { retryAt: _r, failure: _f, artifacts: _a, log: _l, image: _i, ...rest } = r;
  return rest;
}

/** The record after dispatching `action`: queued, with the attempt appended (idempotent). */
export function recordDispatch(existing: BuildRecord | undefined, action: BuildAction, desiredCommit: string, now: Date): BuildRecord {
  const attempt: BuildAttempt = { n: action.attempt, dispatchedAt: now.toISOString() };
  const previous = (existing?.attempts ?? []).filter((a) => a.n !== action.attempt);
  const base: BuildRecord = existing
    ? withoutOutcome(existing)
    : { key: action.key, inputs: action.inputs, pool: action.pool, desiredCommit, state: 'queued', attempts: [] };
  return { ...base, pool: action.pool, desiredCommit, state: 'queued', attempts: [...previous, attempt].sort((a, b) => a.n - b.n) };
}

function attemptFromResult(result: BuildResult, dispatched: BuildAttempt | undefined, cls: string | undefined, reason: string | undefined): BuildAttempt {
  const a: BuildAttempt = {
    n: result.attempt,
    // A result whose dispatch was never recorded (crash between publish and commit) has no
    // dispatch time; its start time is the best lower bound we have.
    dispatchedAt: dispatched?.dispatchedAt ?? result.startedAt,
    agent: result.agent,
    startedAt: result.startedAt,
    finishedAt: result.finishedAt,
    outcome: result.outcome,
  };
  if (cls) a.failureClass = cls as BuildAttempt['failureClass'];
  if (reason) a.reason = reason;
  if (result.exitCode !== undefined) a.exitCode = result.exitCode;
  if (result.oomKilled) a.oomKilled = true;
  if (result.timedOut) a.timedOut = true;
  return a;
}

function replaceAttempt(attempts: BuildAttempt[], a: BuildAttempt): BuildAttempt[] {
  return [...attempts.filter((x) => x.n !== a.n), a].sort((x, y) => x.n - y.n);
}

/**
 * The record after `result`, or null when the result changes nothing and is to be
 * acked and dropped: the build already succeeded, or this attempt's outcome is
 * already recorded (a redelivered or duplicate result).
 */
export function applyResult(
  existing: BuildRecord | undefined,
  result: BuildResult,
  policy: RetryPolicy,
  now: Date,
  random: () => number,
): BuildRecord | null {
  if (existing?.state === 'succeeded') return null;
  const dispatched = existing?.attempts.find((a) => a.n === result.attempt);
  if (dispatched?.outcome) return null;

  const base: BuildRecord = existing ?? {
    key: result.key,
    inputs: result.inputs,
    pool: result.pool,
    desiredCommit: result.desiredCommit ?? 'unknown',
    state: 'queued',
    attempts: [],
  };
  const log = recordLog(result);

  if (result.outcome === 'succeeded') {
    // The key names the inputs, so a success from any attempt (even one we had given
    // up on as lost) is a valid output for this record.
    const attempts = replaceAttempt(base.attempts, attemptFromResult(result, dispatched, undefined, undefined));
    return { ...withoutOutcome(base), state: 'succeeded', attempts, artifacts: result.artifacts, ...(result.image ? { image: result.image } : {}), ...(log ? { log } : {}) };
  }

  const cls = classifyFailure(result);
  const reason = describeFailure(result, cls);
  const attempts = replaceAttempt(base.attempts, attemptFromResult(result, dispatched, cls, reason));
  const latest = Math.max(...attempts.map((a) => a.n));
  if (result.attempt < latest && base.state === 'queued') {
    // An older attempt failing while a newer one is queued: history only.
    return { ...base, attempts };
  }

  const logTail = tail(result.logTail);
  const exhausted = result.attempt - (base.retryBase ?? 0) >= policy.maxAttempts;
  const retryable = isRetryable(cls) && !exhausted;
  const record: BuildRecord = {
    ...withoutOutcome(base),
    state: 'failed',
    attempts,
    failure: {
      class: cls,
      reason: isRetryable(cls) && exhausted ? `${reason} (gave up after ${result.attempt} of ${policy.maxAttempts} attempts)` : reason,
      retryable,
      ...(logTail !== undefined ? { logTail } : {}),
    },
    ...(log ? { log } : {}),
  };
  if (retryable) {
    const delay = backoff(result.attempt, { ...policy.backoff, random });
    record.retryAt = new Date(now.getTime() + delay).toISOString();
  }
  return record;
}

/**
 * `kiln retry`: make a failed record retryable now. Returns null when there is
 * nothing to retry (not failed, or already retryable now).
 */
export function requestRetry(existing: BuildRecord, now: Date, by?: string): BuildRecord | null {
  if (existing.state !== 'failed' || !existing.failure) return null;
  const at = now.toISOString();
  if (existing.failure.retryable && existing.retryAt && existing.retryAt <= at) return null;
  return {
    ...existing,
    retryAt: at,
    // A fresh budget of attempts: those made so far no longer count against maxAttempts.
    retryBase: Math.max(0, ...existing.attempts.map((a) => a.n)),
    failure: { ...existing.failure, retryable: true, reason: `${existing.failure.reason} — retry requested${by ? ` by ${by}` : ''}` },
  };
}
