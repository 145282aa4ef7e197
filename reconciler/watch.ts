// The long-running reconciler: runs passes when the metadata repo's HEAD moves,
// when results arrive (or someone calls wake()), and every `intervalMs`; holds
// the KV lease while it does; backs off after a failing pass, and after a
// *stalled* one (bad metadata: needs a human) waits for a new commit instead.
// Stops cleanly on the abort signal: the pass in progress finishes, the lease is
// released. The scheduling rule is the pure `nextPassReason` below.
import type { Logger } from 'pino';
import { backoff, retryPolicy } from '../schema/retry.ts';
import type { LeaseStatus } from './pipeline/lease.ts';
import { kindOf, LeaseHeldError } from '../schema/errors.ts';

export interface LoopState {
  /** HEAD the last successful pass started from. */
  lastHead?: string;
  lastPassAt?: number;
  /** HEAD at which a pass stalled: nothing runs until HEAD moves. */
  stalledHead?: string;
  /** Consecutive failed passes (not stalled ones). */
  failures: number;
  /** Earliest time of the next attempt after a failure. */
  retryAt?: number;
  /** Why someone woke the loop (e.g. "results"), until the next pass. */
  woken?: string;
  /** The last pass collected results: while results keep coming, take them without waiting for a batch. */
  draining?: boolean;
  /** When a wait in the last plan ends by itself (a retry's backoff): a pass is due then, not at the next interval. */
  wakeAt?: number;
}

export interface Observation {
  head?: string;
  /** Results waiting to be collected. */
  results: number;
  /** How long results have been waiting (0 when none). */
  resultsWaitingMs: number;
  now: number;
  intervalMs: number;
  /**
   * Results are collected in batches, so that a burst of results becomes a few
   * status commits rather than one per result: a pass runs once the oldest has
   * waited `batchMs`, or `batchMax` are waiting.
   */
  batchMs: number;
  batchMax: number;
}

/** Pure: why a pass should run now, or undefined to keep waiting. */
export function nextPassReason(s: LoopState, o: Observation): string | undefined {
  if (s.stalledHead !== undefined) return o.head !== s.stalledHead ? 'new commit after a stalled pass' : undefined;
  if (s.retryAt !== undefined) return o.now >= s.retryAt ? `retry after ${s.failures} failed pass(es)` : undefined;
  if (s.lastPassAt === undefined) return 'start';
  if (o.head !== s.lastHead) return 'new commit';
  if (s.woken) return s.woken;
  if (s.wakeAt !== undefined && o.now >= s.wakeAt) return 'retry time reached';
  // Batching gathers a trickle into one commit; a pass that just collected results is
  // draining a burst, so what arrived meanwhile is taken at once (no batch wait).
  if (o.results > 0 && (s.draining || o.resultsWaitingMs >= o.batchMs || o.results >= o.batchMax)) return 'results waiting';
  if (o.now - s.lastPassAt >= o.intervalMs) return 'interval';
  return undefined;
}

/** A pass that failed this way waits for a new commit (the error's kind decides: retryPolicy). */
export function isStalled(e: unknown): boolean {
  return !retryPolicy(kindOf(e)).retry;
}

/** Pure: the loop state after a pass that started at `head`. */
export function afterPass(
  s: LoopState,
  head: string | undefined,
  now: number,
  error: unknown,
  retry: RetryOptions,
  random: () => number,
  collected = 0,
  wakeAt?: number,
): LoopState {
  if (error === undefined) return { lastHead: head, lastPassAt: now, failures: 0, ...(collected > 0 ? { draining: true } : {}), ...(wakeAt !== undefined ? { wakeAt } : {}) };
  const policy = retryPolicy(kindOf(error));
  if (!policy.retry) return { ...s, woken: undefined, stalledHead: head ?? '', retryAt: undefined, failures: 0, lastPassAt: now };
  // Waiting (a lease held, a consumer not there yet): look again soon, without growing the backoff.
  if (policy.delay === 'poll') return { ...s, woken: undefined, stalledHead: undefined, retryAt: now + retry.baseMs, lastPassAt: now };
  const failures = s.failures + 1;
  return { ...s, woken: undefined, stalledHead: undefined, failures, retryAt: now + backoff(failures, { ...retry, random }), lastPassAt: now };
}

export interface RetryOptions {
  baseMs: number;
  capMs: number;
}

export interface WatchDeps<R> {
  runPass(reason: string): Promise<R>;
  /** The metadata repo's HEAD commit; cheap (read every poll). */
  readHead(): Promise<string | undefined>;
  /** How many results are waiting to be collected; cheap. */
  resultsWaiting?(): Promise<number>;
  lease?: { acquire(): Promise<LeaseStatus>; release(): Promise<void> };
  /** How often to renew the lease while a pass runs (default: every 10 s). */
  leaseRenewMs?: number;
  /** Called after every successful pass (progress output). */
  onPass?(report: R, reason: string): void;
  /** When the report says a pass is next due by itself (e.g. the earliest retry time in its plan). */
  wakeAtOf?(report: R): number | undefined;
  log: Logger;
  signal: AbortSignal;
  now(): Date;
  random(): number;
}

export interface WatchOptions {
  intervalMs: number;
  /** How often HEAD and the results queue are looked at (≤ 1000 so a commit is seen within 2 s). */
  pollMs?: number;
  retry?: RetryOptions;
  /** See Observation.batchMs / batchMax (defaults 500 ms / 1000). */
  batchMs?: number;
  batchMax?: number;
}

export interface WatchSummary {
  passes: number;
  failedPasses: number;
}

export const DEFAULT_RETRY: RetryOptions = { baseMs: 1000, capMs: 60_000 };

export interface WatchHandle {
  /** Ask for a pass at the next poll (e.g. a result arrived, a webhook fired). */
  wake(reason: string): void;
  done: Promise<WatchSummary>;
}

/**
 * Renew the lease every `everyMs` while a pass runs. An answer that says it is gone is logged
 * at once; the pass itself checks the lease before each acting step (Lease.assertHeld) and stops.
 */
function renewWhileRunning(lease: NonNullable<WatchDeps<unknown>['lease']>, everyMs: number, log: Logger): NodeJS.Timeout {
  // One renewal at a time: a second one racing a slow first (a broker in a leader election)
  // would lose the compare-and-set to our own write and report the lease as lost.
  let inFlight = false;
  return setInterval(() => {
    if (inFlight) return;
    inFlight = true;
    lease
      .acquire()
      .then(
        (s) => {
          if (!s.held) log.error({ holder: s.holder }, 'lost the reconciler lease during a pass: the pass stops before its next step');
        },
        (e: unknown) => log.warn({ err: (e as Error).message }, 'could not renew the reconciler lease; the pass stops if it runs out'),
      )
      .finally(() => {
        inFlight = false;
      });
  }, everyMs);
}

function sleep(ms: number, signal: AbortSignal, wakeup: { fn?: () => void }): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      wakeup.fn = undefined;
      resolve();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
    wakeup.fn = done;
  });
}

/** Run passes until the signal aborts. */
export function watch<R>(deps: WatchDeps<R>, opts: WatchOptions): WatchHandle {
  const log = deps.log.child({ component: 'watch' });
  const pollMs = Math.min(opts.pollMs ?? 1000, 1000);
  const retry = opts.retry ?? DEFAULT_RETRY;
  const wakeup: { fn?: () => void } = {};
  let state: LoopState = { failures: 0 };
  const summary: WatchSummary = { passes: 0, failedPasses: 0 };
  let leaseWaitLogged = false;

  let resultsSince: number | undefined;
  // A wake that arrives while a pass runs (e.g. a webhook during the pass it woke) would be lost when
  // the pass's outcome replaces `state`: it is kept here until the next tick, which runs at once.
  let pendingWake: string | undefined;

  const tick = async () => {
    if (pendingWake !== undefined) {
      state = { ...state, woken: state.woken ?? pendingWake };
      pendingWake = undefined;
    }
    const head = await deps.readHead();
    const results = deps.resultsWaiting ? await deps.resultsWaiting() : 0;
    const now = deps.now().getTime();
    resultsSince = results > 0 ? (resultsSince ?? now) : undefined;
    const reason = nextPassReason(state, {
      head,
      results,
      resultsWaitingMs: resultsSince === undefined ? 0 : now - resultsSince,
      now,
      intervalMs: opts.intervalMs,
      batchMs: opts.batchMs ?? 500,
      batchMax: opts.batchMax ?? 1000,
    });
    if (!reason) return;
    if (deps.lease) {
      const l = await deps.lease.acquire();
      if (!l.held) {
        if (!leaseWaitLogged) log.info({ holder: l.holder, until: l.expiresAt }, 'another reconciler holds the lease; waiting');
        leaseWaitLogged = true;
        return;
      }
      leaseWaitLogged = false;
    }
    state = { ...state, woken: undefined };
    const renew = deps.lease ? renewWhileRunning(deps.lease, deps.leaseRenewMs ?? 10_000, log) : undefined;
    let error: unknown;
    let wakeAt: number | undefined;
    resultsSince = undefined;
    const collected = results;
    try {
      const report = await deps.runPass(reason);
      summary.passes++;
      wakeAt = deps.wakeAtOf?.(report);
      deps.onPass?.(report, reason);
    } catch (e) {
      error = e ?? new Error('pass failed');
      summary.failedPasses++;
    } finally {
      if (renew) clearInterval(renew);
    }
    state = afterPass(state, head, deps.now().getTime(), error, retry, deps.random, collected, wakeAt);
    if (error !== undefined) {
      if (isStalled(error)) log.error({ err: (error as Error).message, head }, 'pass stalled: waiting for a new commit');
      else log.warn({ err: (error as Error).message, retryAt: new Date(state.retryAt!).toISOString(), failures: state.failures }, 'pass failed; retrying with backoff');
    }
  };

  const done = (async () => {
    try {
      while (!deps.signal.aborted) {
        try {
          await tick();
        } catch (e) {
          // Reading HEAD or the queue failed (NATS down, repo moved): keep polling.
          log.warn({ err: (e as Error).message }, 'watch poll failed');
        }
        if (pendingWake === undefined) await sleep(pollMs, deps.signal, wakeup);
      }
    } finally {
      await deps.lease?.release().catch(() => undefined);
    }
    return summary;
  })();

  return {
    wake(reason) {
      pendingWake ??= reason;
      wakeup.fn?.();
    },
    done,
  };
}

/**
 * One pass under the lease (--once). Waits up to `leaseWaitMs` (default 0) for a
 * peer's lease to be released or to expire (e.g. one that was killed), then
 * throws LeaseHeldError.
 */
export async function reconcileOnce<R>(
  deps: Pick<WatchDeps<R>, 'runPass' | 'lease' | 'log' | 'leaseRenewMs'> & { leaseWaitMs?: number; signal?: AbortSignal },
): Promise<R> {
  if (deps.lease) {
    const deadline = Date.now() + (deps.leaseWaitMs ?? 0);
    let l = await deps.lease.acquire();
    if (!l.held && deps.leaseWaitMs) deps.log.info({ holder: l.holder, until: l.expiresAt }, 'another reconciler holds the lease; waiting for it');
    while (!l.held && Date.now() < deadline && !deps.signal?.aborted) {
      await new Promise((r) => setTimeout(r, 500));
      l = await deps.lease.acquire();
    }
    if (!l.held) throw new LeaseHeldError(l.holder, l.expiresAt);
  }
  // Renewed while the pass runs, as in watch mode: gates and publishing can outlast the lease's TTL.
  const renew = deps.lease ? renewWhileRunning(deps.lease, deps.leaseRenewMs ?? 10_000, deps.log) : undefined;
  try {
    return await deps.runPass('once');
  } finally {
    if (renew) clearInterval(renew);
    await deps.lease?.release().catch(() => undefined);
  }
}
