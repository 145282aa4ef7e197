// One socket write per event-loop turn instead of one per microtask turn. @nats-io/nats-core
// queues what a connection sends and writes it to the socket at the end of the microtask turn
// that queued it; a busy agent or reconciler handles many messages per loop turn (each in its
// own I/O callback), so that was a write per message or two: the biggest single item of an
// agent's CPU in scripts/bench-dispatch (the `writev` calls). Deferring the write to the check
// phase (setImmediate) sends what every callback of that turn queued in one write, in the
// same order, a fraction of a millisecond later. What the client writes at once when its
// buffer is full, and a close, still write at once.
import type { NatsConnection } from '@nats-io/transport-node';

/** The parts of nats-core's protocol handler this relies on (3.x); absent in another version: nothing is changed. */
interface Protocol {
  flushPending: () => void;
  outbound: { size(): number };
  pendingLimit: number;
}

function protocolOf(nc: NatsConnection): Protocol | undefined {
  const p = (nc as unknown as { protocol?: Partial<Protocol> }).protocol;
  if (typeof p?.flushPending !== 'function' || typeof p.outbound?.size !== 'function' || typeof p.pendingLimit !== 'number') return undefined;
  return p as Protocol;
}

/** Make `nc` write once per event-loop turn (in place); returns whether it could. */
export function coalesceWrites(nc: NatsConnection): boolean {
  const protocol = protocolOf(nc);
  if (!protocol) return false;
  const writeNow = protocol.flushPending.bind(protocol);
  let scheduled = false;
  const writeScheduled = () => {
    scheduled = false;
    writeNow();
  };
  protocol.flushPending = () => {
    // A full buffer is written at once, as the client does.
    if (protocol.outbound.size() >= protocol.pendingLimit) return writeNow();
    if (scheduled) return;
    scheduled = true;
    setImmediate(writeScheduled);
  };
  // close() tears the socket down without writing what is queued: write it first.
  const close = nc.close.bind(nc);
  nc.close = async () => {
    writeNow();
    await close();
  };
  return true;
}
