// A pull from a registry that accepts the connection and never answers: the real
// engine waits on it without a deadline, so pullImage gives up once the engine sent
// nothing for its stall time (the caller then records an infrastructure failure and retries).
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { after, before, test } from 'node:test';
import { pullImage } from '../../oci/docker-pull.ts';
import { docker, dockerUnavailable } from '../helpers/docker.ts';
import { freePort } from '../helpers/nats.ts';
import { until, withDeadline } from '../helpers/until.ts';

let server: Server;
let port: number;
const sockets = new Set<Socket>();
let accepted = 0;
let skip: string | undefined;

before(async () => {
  skip = await dockerUnavailable();
  port = await freePort();
  server = createServer((s) => {
    accepted += 1;
    sockets.add(s); // accepted, never answered
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
});

after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

test('docker pull - a registry that never answers fails the pull after the stall time instead of waiting forever', async (t) => {
  if (skip) return t.skip(skip);
  const ref = `127.0.0.1:${port}/kiln/never-answers:1`;
  const started = Date.now();
  await withDeadline(
    assert.rejects(pullImage(docker, ref, { stallMs: 1500 }), (e: Error) => {
      assert.match(e.message, /no progress for 1\.5 s/);
      assert.ok(e.message.includes(ref), e.message);
      return true;
    }),
    60_000,
    'pullImage with a 1.5 s stall time',
  );
  assert.ok(Date.now() - started >= 1400, 'it waited for the stall time');
  // The wait was on the registry (the engine reached it), not on the engine itself. The engine may
  // keep its own connection open: it does not cancel a pull whose client went away.
  assert.ok(accepted > 0, 'the engine connected to the silent registry');
});

test('docker pull - a pull given up by its caller (an agent stopping) ends at once, with the reason', async (t) => {
  if (skip) return t.skip(skip);
  const ref = `127.0.0.1:${port}/kiln/never-answers:2`;
  const stop = new AbortController();
  const before = accepted;
  const pulling = pullImage(docker, ref, { stallMs: 120_000, signal: stop.signal });
  await until(() => accepted > before, 30_000, 'the engine to reach the silent registry');
  stop.abort();
  // A bound, not a wait: without the signal this pull would wait out its 120 s stall time.
  await withDeadline(assert.rejects(pulling, /was given up: the caller is stopping/), 10_000, 'the pull after its signal aborted');
  await assert.rejects(pullImage(docker, ref, { signal: stop.signal }), /was given up/);
});
