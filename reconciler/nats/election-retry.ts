// Riding out a JetStream leader election. While a cluster re-elects a stream's
// or the meta group's leader (seconds, after a node dies) the server answers
// requests with "no responders", a 503 "temporarily unavailable" API error, or
// not at all. Every JetStream call — stream publishes, the management API, KV,
// the object store, acks — is an `nc.request`, so retrying there covers them all.
// What may be repeated is decided by retryable() below: a request nobody received
// ("no responders") always; a request that timed out only when repeating it
// changes nothing (API calls, acks, publishes deduplicated by Nats-Msg-Id).
import { setTimeout as sleep } from 'node:timers/promises';
import { RequestError, TimeoutError, type Msg, type NatsConnection, type Payload, type RequestOptions } from '@nats-io/transport-node';
import type { Logger } from 'pino';

export interface ElectionRetry {
  /** Give up after this long (the last error is thrown, or the last answer returned). */
  budgetMs: number;
  baseMs: number;
  capMs: number;
  log: Logger;
}

export const ELECTION_RETRY_DEFAULTS = { budgetMs: 30_000, baseMs: 250, capMs: 2000 } as const;

/** Pure: may a request to `subject` that failed with `err` be sent again? */
export function retryable(subject: string, opts: RequestOptions | undefined, err: unknown): boolean {
  if (err instanceof RequestError && err.isNoResponders()) return true;
  if (!(err instanceof TimeoutError || (err instanceof RequestError && err.cause instanceof TimeoutError))) return false;
  return subject.startsWith('$JS.API.') || subject.startsWith('$JS.ACK.') || opts?.headers?.has('Nats-Msg-Id') === true;
}

/**
 * JetStream API error codes that mean "this asset has no leader right now": a stream or consumer
 * is offline while its replicas move or a node rejoins (JSStreamOfflineErr, JSConsumerOfflineErr).
 */
export const OFFLINE_ERR_CODES: ReadonlySet<number> = new Set([10118, 10119]);

const OPEN_BRACE = 0x7b;
const ERROR_MEMBER = Buffer.from('"error"');

/** Pure: does `data` contain the bytes of `part`? Buffer's native search on the payload's own view (no copy, no Buffer made). */
const includesBytes = (data: Uint8Array, part: Uint8Array): boolean => Buffer.prototype.indexOf.call(data, part) >= 0;

/** Pure: does this JetStream API answer say "no leader right now, ask again"? */
export function unavailableAnswer(subject: string, data: Uint8Array): boolean {
  if (!subject.startsWith('$JS.API.') || data.length === 0 || data.length > 4096) return false;
  // Most answers are no error (an info, a direct get's raw bytes): not parsed (a throw per binary answer, a second parse per info).
  if (data[0] !== OPEN_BRACE || !includesBytes(data, ERROR_MEMBER)) return false;
  try {
    const err = (JSON.parse(Buffer.from(data).toString('utf8')) as { error?: { code?: number; err_code?: number } }).error;
    return err?.code === 503 || (err?.err_code !== undefined && OFFLINE_ERR_CODES.has(err.err_code));
  } catch {
    return false;
  }
}

/** Pure: the wait before retry number `n` (1-based). */
export function retryDelayMs(n: number, r: Pick<ElectionRetry, 'baseMs' | 'capMs'>): number {
  return Math.min(r.capMs, r.baseMs * 2 ** (n - 1));
}

/** The same connection, with `request` retried through elections. */
export function rideOutElections(nc: NatsConnection, r: ElectionRetry): NatsConnection {
  const request = async (subject: string, payload?: Payload, opts?: RequestOptions): Promise<Msg> => {
    const deadline = Date.now() + r.budgetMs;
    for (let n = 1; ; n++) {
      let answer: Msg | undefined;
      let error: unknown;
      try {
        answer = await nc.request(subject, payload, opts);
        if (!unavailableAnswer(subject, answer.data)) return answer;
      } catch (e) {
        if (!retryable(subject, opts, e)) throw e;
        error = e;
      }
      const wait = retryDelayMs(n, r);
      if (nc.isClosed() || Date.now() + wait > deadline) {
        r.log.warn({ subject, tries: n, err: error }, 'JetStream still unavailable; giving up');
        if (answer) return answer;
        throw error;
      }
      r.log.debug({ subject, try: n, err: error ?? 'unavailable' }, 'JetStream unavailable (leader election?); retrying');
      await sleep(wait);
    }
  };
  return withRequest(nc, request);
}

/** The same connection with `request` replaced; everything else is the original's. */
export function withRequest(nc: NatsConnection, request: NatsConnection['request']): NatsConnection {
  // Methods bound once each: the clients look them up per message (publish, request, ...).
  const bound = new Map<PropertyKey, { fn: unknown; boundFn: unknown }>();
  return new Proxy(nc, {
    get(target, prop) {
      if (prop === 'request') return request;
      const v: unknown = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      const known = bound.get(prop);
      if (known?.fn === v) return known.boundFn;
      const boundFn = v.bind(target);
      bound.set(prop, { fn: v, boundFn });
      return boundFn;
    },
  });
}
