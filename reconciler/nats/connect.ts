// One way to connect to NATS: to any of a cluster's servers (a comma-separated
// URL list), reconnect forever, say so in the log when the link drops or comes
// back (a build host may lose the broker for minutes), and retry JetStream
// requests through leader elections (election-retry.ts).
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { BrokerCredentials } from '../../schema/broker.ts';
import { NatsConnectError } from '../../schema/errors.ts';
import { ELECTION_RETRY_DEFAULTS, rideOutElections, type ElectionRetry } from './election-retry.ts';
import { connectOptionsOf } from '../broker/credentials.ts';

export interface ConnectOptions {
  /** Client name shown by the server (monitoring, `nats server report connections`). */
  name: string;
  log: Logger;
  /** Wait between reconnect attempts. */
  reconnectTimeWaitMs?: number;
  /** How JetStream requests are retried while a cluster elects a leader. */
  electionRetry?: Partial<Omit<ElectionRetry, 'log'>>;
  /** From --nats-credentials (readCredentials): nkey or user/password, own reply inbox, CA to trust. */
  credentials?: BrokerCredentials;
}

/** Pure: the server URLs in `url` ("nats://a:4222,nats://b:4222"). */
export function natsServers(url: string): string[] {
  return url.split(',').map((u) => u.trim()).filter((u) => u.length > 0);
}

export async function connectNats(url: string, opts: ConnectOptions): Promise<NatsConnection> {
  const log = opts.log.child({ component: 'nats', url });
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: natsServers(url),
      name: opts.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: opts.reconnectTimeWaitMs ?? 1000,
      // A wrong URL at start-up is an error to report, not something to wait out.
      waitOnFirstConnect: false,
      // No stack captured per request (two Error objects each, ~8% of an agent's CPU in
      // scripts/bench-dispatch): a failed request still says what failed, and our own
      // errors name the step; only the client-internal async trace is lost.
      noAsyncTraces: true,
      ...(opts.credentials ? connectOptionsOf(opts.credentials) : {}),
    });
  } catch (e) {
    throw new NatsConnectError(`cannot connect to NATS at ${url}: ${(e as Error).message}`, { url }, { cause: e });
  }
  log.debug({ server: nc.info?.server_name }, 'connected');
  void watchStatus(nc, log);
  return rideOutElections(nc, { ...ELECTION_RETRY_DEFAULTS, ...opts.electionRetry, log });
}

async function watchStatus(nc: NatsConnection, log: Logger): Promise<void> {
  for await (const s of nc.status()) {
    switch (s.type) {
      case 'disconnect':
        log.warn({ server: s.server }, 'disconnected from NATS; reconnecting');
        break;
      case 'reconnect':
        log.info({ server: s.server }, 'reconnected to NATS');
        break;
      case 'error':
        log.error({ err: s.error }, 'NATS error');
        break;
      case 'slowConsumer':
        log.warn({ pending: s.pending }, 'NATS slow consumer');
        break;
      default:
        break;
    }
  }
}
