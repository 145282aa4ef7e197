import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import type { Mirror } from '../../reconciler/remote/mirror.ts';
import { remoteStep } from '../../reconciler/remote/remote-step.ts';
import type { Transport } from '../../reconciler/remote/transport.ts';
import { RemoteUnreachableError } from '../../schema/errors.ts';

const HEAD = 'c'.repeat(40);

/** A mirror over a transport that only counts: the remote has one branch, no kiln/status. */
async function countingMirror(down = () => false): Promise<{ mirror: Mirror; lists: () => number }> {
  let lists = 0;
  const transport: Transport = {
    url: 'https://forge.invalid/meta.git',
    listRefs: async () => {
      lists++;
      if (down()) throw new RemoteUnreachableError('connect ECONNREFUSED');
      return { refs: new Map([['refs/heads/main', HEAD]]), head: 'refs/heads/main' };
    },
    fetch: async (refs) => new Map(refs.map((r) => [r, HEAD])),
    push: async () => undefined,
  };
  const gitdir = await mkdtemp(join(tmpdir(), 'kiln-mirror-'));
  return { mirror: { gitdir, stateDir: gitdir, transport, remote: {}, log: pino({ level: 'silent' }), cache: {} }, lists: () => lists };
}

test('remote step - passes closer than the fetch interval share one fetch; fetchNow forces the next', async () => {
  const { mirror, lists } = await countingMirror();
  let now = 1_000;
  const step = remoteStep(mirror, async () => undefined, undefined, { minFetchIntervalMs: 2_000, now: () => now });
  assert.equal((await step.beforePass())?.head, HEAD);
  now += 500;
  assert.equal(await step.beforePass(), undefined);
  assert.equal(lists(), 1);
  step.fetchNow();
  await step.beforePass();
  assert.equal(lists(), 2);
  now += 2_000;
  await step.beforePass();
  assert.equal(lists(), 3);
});

test('remote step - without an interval every pass fetches', async () => {
  const { mirror, lists } = await countingMirror();
  const step = remoteStep(mirror, async () => undefined);
  await step.beforePass();
  await step.beforePass();
  assert.equal(lists(), 2);
});

test('remote step - an unreachable remote fails a pass only while nothing was ever fetched', async () => {
  let down = true;
  const { mirror } = await countingMirror(() => down);
  const step = remoteStep(mirror, async () => undefined);
  await assert.rejects(step.beforePass(), (e: Error & { code?: string }) => e.code === 'KILN_REMOTE_UNREACHABLE');
  down = false;
  assert.equal((await step.beforePass())?.head, HEAD);
  down = true;
  assert.equal(await step.beforePass(), undefined, 'the pass goes on with the mirror as last fetched');
});
