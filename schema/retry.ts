// What an error's kind means for what happens next, in one place (Flux's
// internal/reconcile, controller-runtime's TerminalError). Pure; both the
// reconciler and the agents use it, hence schema/.
import type { ErrorKind } from './errors.ts';
import type { FailureClass } from './status.ts';

export type RetryPolicy =
  /** Needs a human or a new input: wait for a new desired commit (or exit). */
  | { retry: false }
  /** Try again after backoff(attempt): failures count and the delay grows. */
  | { retry: true; delay: 'backoff' }
  /** Look again after the usual poll delay: not a failure, nothing grows. */
  | { retry: true; delay: 'poll' };

const POLICIES: Readonly<Record<ErrorKind, RetryPolicy>> = Object.freeze({
  terminal: { retry: false },
  usage: { retry: false },
  transient: { retry: true, delay: 'backoff' },
  waiting: { retry: true, delay: 'poll' },
});

export function retryPolicy(kind: ErrorKind): RetryPolicy {
  return POLICIES[kind];
}

/**
 * The failure class of a build attempt that ended with an error before its
 * recipe ran (source fetch, Docker set-up): a terminal error is the inputs'
 * fault and fails the same way again ('build'); anything else is the agent's or
 * the network's ('infra', retried).
 */
export function failureClassForKind(kind: ErrorKind): Extract<FailureClass, 'build' | 'infra'> {
  return kind === 'terminal' ? 'build' : 'infra';
}

export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** Returns [0, 1); Math.random in production, a constant in tests. */
  random: () => number;
  /** Fraction of the delay that is randomised (0: none, 1: full jitter). Default 0.5. */
  jitter?: number;
}

/**
 * Delay before attempt `attempt + 1`, after `attempt` (1-based) failed:
 * min(base·2^(attempt-1), cap), minus up to `jitter` of it at random so that many
 * builds failing together (a broken agent) do not come back together
 * (BullMQ backoffs.ts).
 */
export function backoff(attempt: number, opts: BackoffOptions): number {
  const n = Math.max(1, Math.floor(attempt));
  const raw = Math.min(opts.baseMs * 2 ** (n - 1), opts.capMs);
  const jitter = Math.min(1, Math.max(0, opts.jitter ?? 0.5));
  return Math.floor(raw * (1 - jitter) + opts.random() * raw * jitter);
}
