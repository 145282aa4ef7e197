// Binding to the (pool, arch) durable consumer, which the reconciler creates
// (ensureTopology); agents never create it. Why a lookup failed decides what
// happens: not there yet → wait; not allowed or no JetStream → stop and say
// so; anything else (timeouts, a dropped link) → retry with backoff.
import { setTimeout as sleep } from 'node:timers/promises';
import { JetStreamApiCodes, JetStreamApiError, type Consumer, type JetStreamClient } from '@nats-io/jetstream';
import { errors as natsErrors } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { AgentInfraError, type ErrorKind } from '../schema/errors.ts';
import { STREAMS } from '../schema/nats.ts';
import { backoff, retryPolicy } from '../schema/retry.ts';

/** Pure: the kind of a consumer lookup failure. */
export function bindErrorKind(e: unknown): ErrorKind {
  if (e instanceof JetStreamApiError && (e.code === JetStreamApiCodes.ConsumerNotFound || e.code === JetStreamApiCodes.StreamNotFound)) return 'waiting';
  const causes = [e, (e as { cause?: unknown } | null)?.cause];
  const refused = causes.some(
    (c) =>
      c instanceof natsErrors.PermissionViolationError ||
      c instanceof natsErrors.AuthorizationError ||
      c instanceof natsErrors.UserAuthenticationExpiredError ||
      (c as Error | null)?.name === 'JetStreamNotEnabled',
  );
  return refused ? 'usage' : 'transient';
}

export interface BindOptions {
  /** Delay between looks while the consumer does not exist yet, and the first backoff step. */
  retryMs: number;
  /** Longest backoff after repeated transient failures. */
  capMs?: number;
  log: Logger;
  /** Stop waiting (undefined is returned). */
  stopped: () => boolean;
  random?: () => number;
}

/** The consumer, or undefined when stopped first; throws (kind 'usage') when the agent may not use it. */
export async function bindConsumer(js: JetStreamClient, name: string, o: BindOptions): Promise<Consumer | undefined> {
  let warned = false;
  let failures = 0;
  while (!o.stopped()) {
    try {
      const c = await js.consumers.get(STREAMS.builds, name);
      if (warned) o.log.info({ consumer: name }, 'consumer found');
      return c;
    } catch (e) {
      const kind = bindErrorKind(e);
      const policy = retryPolicy(kind);
      const msg = (e as Error).message;
      if (!policy.retry) {
        throw new AgentInfraError(`cannot bind to consumer ${STREAMS.builds}/${name}: ${msg} (check this agent's NATS permissions and that JetStream is enabled)`, { consumer: name }, { cause: e, kind });
      }
      if (policy.delay === 'poll') {
        if (!warned) o.log.warn({ consumer: name, err: msg }, `waiting for consumer ${STREAMS.builds}/${name} (created by the reconciler from kiln.yaml's pools)`);
        warned = true;
        failures = 0;
        await sleep(o.retryMs);
      } else {
        failures++;
        const delay = backoff(failures, { baseMs: o.retryMs, capMs: o.capMs ?? 30_000, random: o.random ?? Math.random });
        o.log.warn({ consumer: name, err: msg, failures, retryInMs: delay }, 'consumer lookup failed; retrying');
        await sleep(delay);
      }
    }
  }
  return undefined;
}
