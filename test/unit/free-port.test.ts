import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { ephemeralRange, freeLoopbackPort, portBand } from '../../reconciler/net/free-port.ts';

test('free port - the ephemeral range is read from the kernel text; nonsense gives the default', () => {
  assert.deepEqual(ephemeralRange('32768\t60999\n'), { low: 32768, high: 60999 });
  assert.deepEqual(ephemeralRange('1024 65535'), { low: 1024, high: 65535 });
  assert.deepEqual(ephemeralRange('garbage'), { low: 32768, high: 60999 });
  assert.deepEqual(ephemeralRange('600 500'), { low: 32768, high: 60999 });
});

test('free port - ports are drawn below the ephemeral range (above fetch\'s bad port 10080), above it when there is no room below', () => {
  assert.deepEqual(portBand({ low: 32768, high: 60999 }), { low: 10100, high: 32767 });
  assert.deepEqual(portBand({ low: 10500, high: 50000 }), { low: 50001, high: 65535 });
  assert.deepEqual(portBand({ low: 1024, high: 65000 }), { low: 10100, high: 65535 });
  assert.deepEqual(portBand({ low: 1024, high: 65535 }), { low: 10100, high: 65535 });
});

test('free port - a port outside the ephemeral range that binds, never the same one twice in a process', async () => {
  const range = ephemeralRange();
  const ports = await Promise.all(Array.from({ length: 50 }, () => freeLoopbackPort()));
  assert.equal(new Set(ports).size, ports.length);
  for (const p of ports) assert.ok(p < range.low || p > range.high, `${p} is in the ephemeral range ${range.low}-${range.high}`);
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(ports[0], '127.0.0.1', resolve);
  });
  await new Promise((resolve) => server.close(resolve));
});
