// A connection made by connectNats writes once per event-loop turn (coalesced-writes.ts): what
// many callbacks of one turn publish goes out in one socket write, in order, and what is still
// queued when the connection is closed is written before it closes (as much as the socket takes:
// a burst of megabytes before close() is cut short with or without coalescing). Against a real
// nats-server.
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { connectNats } from '../../reconciler/nats/connect.ts';
import { startNats } from '../helpers/nats.ts';

const quiet = pino({ level: 'silent' });

/** Counts the socket writes of a connection (the transport's send, which nats-core calls per write). */
function countWrites(nc: object): () => number {
  const transport = (nc as { protocol: { transport: { send: (b: Uint8Array) => void } } }).protocol.transport;
  const send = transport.send.bind(transport);
  let n = 0;
  transport.send = (b) => {
    n++;
    send(b);
  };
  return () => n;
}

/** A server, a plain connection subscribed to `subject` (ready), and a connection made by connectNats. */
async function serverAndReader(t: TestContext, subject: string) {
  const server = await startNats();
  t.after(() => server.dispose());
  const reader = await connect({ servers: server.url });
  t.after(() => reader.close());
  const sub = reader.subscribe(subject);
  await reader.flush();
  return { sub, nc: await connectNats(server.url, { name: 'test', log: quiet }) };
}

/** A lost message fails the test at once with what was missing, not at the runner's timeout. */
function withDeadline<T>(p: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not arrive within ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

test('nats writes - what 50 timer callbacks of one turn publish goes out in one write, in order', async (t) => {
  const { sub, nc } = await serverAndReader(t, 'w.>');
  t.after(() => nc.close());
  await nc.flush();
  const writes = countWrites(nc);
  const got: string[] = [];
  const reading = (async () => {
    for await (const m of sub) if (got.push(m.string()) === 50) break;
  })();
  // 50 callbacks of the timers phase of one loop turn, each publishing (nats-core alone: a write each).
  await new Promise<void>((done) => {
    for (let i = 0; i < 50; i++) setTimeout(() => nc.publish(`w.${i}`, String(i)), 0);
    setTimeout(done, 0);
  });
  await withDeadline(reading, 'the 50 messages');
  assert.deepEqual(got, Array.from({ length: 50 }, (_, i) => String(i)));
  assert.ok(writes() <= 2, `${writes()} socket writes for 50 publishes of one turn`);
});

test('nats writes - a publish right before close() is delivered', async (t) => {
  const { sub, nc } = await serverAndReader(t, 'last');
  nc.publish('last', 'sent before close');
  await nc.close();
  const first = (async () => {
    for await (const m of sub) return m.string();
  })();
  assert.equal(await withDeadline(first, 'the message published before close()'), 'sent before close');
});
