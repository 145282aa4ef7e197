// Pure: what a runner's outcome means for the BuildResult (outcome, failure class, reason).
import { errorToJSON, kindOf, type KilnErrorJSON } from '../schema/errors.ts';
import { failureClassForKind } from '../schema/retry.ts';
import type { FailureClass } from '../schema/status.ts';
import type { RunOutcome } from './runner.ts';

export interface Verdict {
  outcome: 'succeeded' | 'failed';
  failureClass?: FailureClass;
  reason?: string;
  /** Set when an error ended the attempt before the recipe ran. */
  error?: KilnErrorJSON;
}

/**
 * An error before or around the run (source fetch, Docker set-up): its kind
 * decides the class, so a hostile source tree (terminal) is not retried as
 * infrastructure trouble.
 */
export function classifyError(e: unknown): Verdict {
  const error = errorToJSON(e);
  return { outcome: 'failed', failureClass: failureClassForKind(kindOf(e)), reason: error.message, error };
}

export function classify(run: RunOutcome, limits: { memoryMiB: number; timeoutSeconds: number }): Verdict {
  if (run.failure) return { outcome: 'failed', failureClass: run.failure.class, reason: run.failure.reason };
  if (run.timedOut) return { outcome: 'failed', failureClass: 'limit', reason: `timed out after ${limits.timeoutSeconds} s` };
  if (run.oomKilled) return { outcome: 'failed', failureClass: 'limit', reason: `out of memory (limit ${limits.memoryMiB} MiB)` };
  if (run.exitCode !== 0) return { outcome: 'failed', failureClass: 'build', reason: `build exited with code ${run.exitCode}` };
  if (run.artifacts.length === 0 && !run.image) return { outcome: 'failed', failureClass: 'build', reason: 'the build succeeded but produced no artifacts' };
  return { outcome: 'succeeded' };
}

/** The last `n` lines of `text`, at most `maxChars` characters (from the end). */
export function tail(text: string, n = 50, maxChars = 8192): string {
  const lines = text.replace(/\n$/, '').split('\n');
  const t = lines.slice(-n).join('\n');
  return t.length > maxChars ? t.slice(t.length - maxChars) : t;
}
