// One way to connect to NATS: reconnect forever, and say so in the log when the
// link drops or comes back (a build host may lose the broker for minutes).
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { NatsConnectError } from '../../schema/errors.ts';

export interface ConnectOptions {
  /** Client name shown by the server (monitoring, `nats server report connections`). */
  name: string;
  log: Logger;
  /** Wait between reconnect attempts. */
  reconnectTimeWaitMs?: number;
}

export async function connectNats(url: string, opts: ConnectOptions): Promise<NatsConnection> {
  const log = opts.log.child({ component: 'nats', url });
  let nc: NatsConnection;
  try {
    nc = await connect({
      servers: url,
      name: opts.name,
      maxReconnectAttempts: -1,
      reconnectTimeWait: opts.reconnectTimeWaitMs ?? 1000,
      // A wrong URL at start-up is an error to report, not something to wait out.
      waitOnFirstConnect: false,
    });
  } catch (e) {
    throw new NatsConnectError(`cannot connect to NATS at ${url}: ${(e as Error).message}`, { url }, { cause: e });
  }
  log.debug('connected');
  void watchStatus(nc, log);
  return nc;
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
