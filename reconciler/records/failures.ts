// The failure policy, in one place: which failures are worth another attempt,
// and how long to wait before it. Pure: the random source is passed in.
import type { BuildResult } from '../../schema/messages.ts';
import type { FailureClass } from '../../schema/status.ts';
import { errorFromJSON } from '../../schema/errors.ts';
import { failureClassForKind } from '../../schema/retry.ts';

/**
 * Whether another attempt of the same inputs can succeed where this one failed.
 * - infra: the agent, Docker, the network or the broker failed — not the build. Retry.
 * - build: the recipe failed to compile; the same inputs fail the same way. A human
 *   changes the source or asks `kiln retry`.
 * - limit: out of memory or time; the same limits give the same outcome.
 * - poison: delivered MaxDeliver times without a result (it kills agents); retrying
 *   automatically is exactly the loop MaxDeliver exists to stop.
 * - integrity: bytes in the object store do not match the digest the agent claimed.
 *   That is either corruption or a lying agent; retrying automatically would hide
 *   tampering behind a later success, so a human looks first (`kiln retry`).
 */
export const RETRYABLE: Readonly<Record<FailureClass, boolean>> = Object.freeze({
  infra: true,
  build: false,
  limit: false,
  poison: false,
  integrity: false,
});

export function isRetryable(cls: FailureClass): boolean {
  return RETRYABLE[cls];
}

/** The class of a failed result; older agents may omit it, so infer from the facts. */
export function classifyFailure(result: Pick<BuildResult, 'failureClass' | 'oomKilled' | 'timedOut' | 'error'>): FailureClass {
  if (result.failureClass) return result.failureClass;
  if (result.error) return failureClassForKind(errorFromJSON(result.error).kind);
  if (result.oomKilled || result.timedOut) return 'limit';
  return 'build';
}

/** A one-line reason when the agent gave none. */
export function describeFailure(result: Pick<BuildResult, 'reason' | 'exitCode' | 'oomKilled' | 'timedOut'>, cls: FailureClass): string {
  if (result.reason) return result.reason;
  if (result.oomKilled) return 'killed: out of memory (memory limit reached)';
  if (result.timedOut) return 'killed: time limit reached';
  if (result.exitCode !== undefined) return `${cls} failure: exit code ${result.exitCode}`;
  return `${cls} failure`;
}

/** Defaults used by the reconciler when kiln.yaml says nothing. */
export const DEFAULT_BACKOFF = { baseMs: 30_000, capMs: 30 * 60_000 } as const;
