// The reconciler lease: one key in the KV bucket BUCKETS.lease holding
// {holder, expiresAt}, changed only by compare-and-set on its revision, so two
// reconcilers never both believe they hold it. (The bucket has no per-key TTL on
// nats-server 2.9, hence the expiry inside the value.) The lease only keeps
// passes from overlapping; correctness does not depend on it: status commits are
// compare-and-set and dispatches are deduplicated by message id.
import type { KV, KvEntry } from '@nats-io/kv';
import type { Logger } from 'pino';
import { LeaseLostError } from '../../schema/errors.ts';
import { isLeaseValue, LEASE_KEY, type LeaseValue } from '../../schema/nats.ts';

export type LeaseStep =
  | { op: 'create' }
  | { op: 'take'; from: string }
  | { op: 'renew' }
  | { op: 'wait'; holder: string; expiresAt: string };

/** Pure: what to do given the current value (undefined: no lease yet). */
export function leaseStep(current: LeaseValue | undefined, me: string, now: Date): LeaseStep {
  if (!current) return { op: 'create' };
  if (current.holder === me) return { op: 'renew' };
  if (Date.parse(current.expiresAt) <= now.getTime()) return { op: 'take', from: current.holder };
  return { op: 'wait', holder: current.holder, expiresAt: current.expiresAt };
}

function parse(entry: KvEntry | null): { value?: LeaseValue; revision: number } {
  if (!entry || entry.operation !== 'PUT' || entry.length === 0) return { revision: entry?.revision ?? 0 };
  try {
    const v: unknown = entry.json();
    if (isLeaseValue(v)) return { value: v, revision: entry.revision };
  } catch {
    // unreadable value: treat as expired, take it over by CAS
  }
  return { value: { holder: '?', expiresAt: new Date(0).toISOString() }, revision: entry.revision };
}

export interface LeaseOptions {
  kv: KV;
  holder: string;
  ttlMs: number;
  now: () => Date;
  /**
   * A clock that never jumps (default performance.now): how long we may still act is also measured
   * on it, so a wall clock set back cannot make us believe in a lease a peer has already taken.
   */
  monotonic?: () => number;
  log: Logger;
}

export interface LeaseStatus {
  held: boolean;
  holder?: string;
  expiresAt?: string;
}

/**
 * Stop acting this long before the lease would expire: renewals that cannot reach the broker
 * must not let a pass run on while a peer is about to take over.
 */
export const LEASE_SAFETY_FRACTION = 1 / 6;

export class Lease {
  private held = false;
  /** Epoch ms our last successful write said the lease runs until. */
  private heldUntil = 0;
  /** The same end on the monotonic clock, counted from before that write was sent. */
  private heldUntilMono = 0;
  /** Who holds it, when we last saw someone else. */
  private otherHolder?: string;
  constructor(private readonly o: LeaseOptions) {}

  private mono(): number {
    return (this.o.monotonic ?? performance.now.bind(performance))();
  }

  get isHeld(): boolean {
    return this.held;
  }

  /**
   * Throws LeaseLostError unless the lease is ours with time to spare: checked by a pass before
   * every step that acts, so two reconcilers never act at once (not merely merge afterwards).
   */
  assertHeld(): void {
    const margin = this.o.ttlMs * LEASE_SAFETY_FRACTION;
    const expired = this.o.now().getTime() >= this.heldUntil - margin || this.mono() >= this.heldUntilMono - margin;
    if (!this.held || expired) throw new LeaseLostError(this.otherHolder);
  }

  /** Acquire or renew; false when another live holder has it (or won a race just now). */
  async acquire(): Promise<LeaseStatus> {
    const { kv, holder, ttlMs, now, log } = this.o;
    const sentAt = this.mono();
    const { value, revision } = parse(await kv.get(LEASE_KEY));
    const step = leaseStep(value, holder, now());
    const next: LeaseValue = { holder, expiresAt: new Date(now().getTime() + ttlMs).toISOString() };
    const data = JSON.stringify(next);
    if (step.op === 'wait') {
      if (this.held) log.warn({ holder: step.holder }, 'lost the reconciler lease');
      this.held = false;
      this.otherHolder = step.holder;
      return { held: false, holder: step.holder, expiresAt: step.expiresAt };
    }
    try {
      if (step.op === 'create' && revision === 0) await kv.create(LEASE_KEY, data);
      else await kv.update(LEASE_KEY, data, revision);
    } catch (e) {
      // Someone else wrote between our read and our write: they have it.
      log.debug({ err: (e as Error).message }, 'lease compare-and-set lost');
      this.held = false;
      return { held: false };
    }
    if (!this.held) log.info({ holder, took: step.op === 'take' ? step.from : undefined }, 'holding the reconciler lease');
    this.held = true;
    this.heldUntil = Date.parse(next.expiresAt);
    this.heldUntilMono = sentAt + ttlMs;
    return { held: true, holder, expiresAt: next.expiresAt };
  }

  /** Give it up at once (clean shutdown), so a peer need not wait for expiry. */
  async release(): Promise<void> {
    if (!this.held) return;
    this.held = false;
    const { kv, holder, log } = this.o;
    const { value, revision } = parse(await kv.get(LEASE_KEY));
    if (value?.holder !== holder) return;
    try {
      await kv.update(LEASE_KEY, JSON.stringify({ holder, expiresAt: new Date(0).toISOString() }), revision);
      log.info('released the reconciler lease');
    } catch {
      // changed under us: not ours any more
    }
  }
}
