// The watch loop against a real git repo (HEAD polling) and a real KV lease.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { until } from '../helpers/until.ts';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { resolveCommit } from '../../reconciler/git/tree.ts';
import { connectNats } from '../../reconciler/nats/connect.ts';
import { ensureTopology } from '../../reconciler/nats/topology.ts';
import { Lease } from '../../reconciler/pipeline/lease.ts';
import { reconcileOnce, watch } from '../../reconciler/watch.ts';
import { BUCKETS } from '../../schema/nats.ts';
import { InvalidMetadataError } from '../../schema/errors.ts';
import { commitFiles, makeRepo } from '../helpers/git.ts';
import { startNats, type NatsServer } from '../helpers/nats.ts';

const log = pino({ level: 'silent' });
let server: NatsServer;
let nc: NatsConnection;
let kv: KV;

before(async () => {
  server = await startNats();
  nc = await connectNats(server.url, { name: 'test', log });
  await ensureTopology(nc, { pools: { default: { architectures: ['amd64'] } } });
  kv = await new Kvm(nc).open(BUCKETS.lease);
});
after(async () => {
  await nc?.close();
  await server?.dispose();
});


test('pipeline watch - a new commit runs a pass; only the lease holder runs; release hands over', async () => {
  const repo = await makeRepo({ 'kiln.yaml': 'a: 1\n' });
  const passes: { who: string; reason: string; head: string }[] = [];
  const start = (who: string) => {
    const ctl = new AbortController();
    const lease = new Lease({ kv, holder: who, ttlMs: 30_000, now: () => new Date(), log });
    const handle = watch(
      {
        readHead: () => resolveCommit(repo.dir, 'HEAD'),
        runPass: async (reason) => {
          passes.push({ who, reason, head: await resolveCommit(repo.dir, 'HEAD') });
          return passes.length;
        },
        lease,
        log,
        signal: ctl.signal,
        now: () => new Date(),
        random: Math.random,
      },
      { intervalMs: 60_000, pollMs: 100 },
    );
    return { ctl, handle };
  };
  const a = start('rec-a');
  await until(() => passes.length === 1, 5000, 'first pass');
  const b = start('rec-b');
  await new Promise((r) => setTimeout(r, 400));
  assert.deepEqual(passes.map((p) => p.who), ['rec-a'], 'rec-b waits: rec-a holds the lease');

  const c2 = await commitFiles(repo.dir, { 'kiln.yaml': 'a: 2\n' });
  await until(() => passes.length === 2, 2000, 'pass on the new commit');
  assert.deepEqual(passes[1], { who: 'rec-a', reason: 'new commit', head: c2 });

  a.handle.wake('results');
  await until(() => passes.length === 3, 2000, 'woken pass');
  assert.equal(passes[2].reason, 'results');

  a.ctl.abort();
  assert.deepEqual(await a.handle.done, { passes: 3, failedPasses: 0 });
  await until(() => passes.length === 4, 3000, 'rec-b takes over');
  assert.equal(passes[3].who, 'rec-b', 'the released lease is taken without waiting for expiry');
  b.ctl.abort();
  await b.handle.done;
});

test('pipeline watch - a stalled pass waits for a new commit; a failing one retries', async () => {
  const repo = await makeRepo({ 'kiln.yaml': 'a: 1\n' });
  const reasons: string[] = [];
  let mode: 'stall' | 'fail' | 'ok' = 'stall';
  const ctl = new AbortController();
  const handle = watch(
    {
      readHead: () => resolveCommit(repo.dir, 'HEAD'),
      runPass: async (reason) => {
        reasons.push(reason);
        if (mode === 'stall') throw new InvalidMetadataError([{ file: 'kiln.yaml', line: 1, message: 'bad', severity: 'error' }]);
        if (mode === 'fail') {
          mode = 'ok';
          throw new Error('nats timeout');
        }
        return 'ok';
      },
      log,
      signal: ctl.signal,
      now: () => new Date(),
      random: () => 0,
    },
    { intervalMs: 100, pollMs: 50, retry: { baseMs: 200, capMs: 200 } },
  );
  await until(() => reasons.length === 1, 2000, 'first pass');
  await new Promise((r) => setTimeout(r, 500));
  assert.deepEqual(reasons, ['start'], 'stalled: the interval does not re-run it');
  mode = 'fail';
  await commitFiles(repo.dir, { 'kiln.yaml': 'a: fixed\n' });
  await until(() => reasons.length === 3, 3000, 'fixed commit, then a retry');
  assert.deepEqual(reasons, ['start', 'new commit after a stalled pass', 'retry after 1 failed pass(es)']);
  ctl.abort();
  assert.deepEqual(await handle.done, { passes: 1, failedPasses: 2 });
});

test('pipeline watch - --once refuses while a peer holds the lease', async () => {
  const peer = new Lease({ kv, holder: 'peer', ttlMs: 30_000, now: () => new Date(), log });
  assert.equal((await peer.acquire()).held, true);
  const me = new Lease({ kv, holder: 'me', ttlMs: 30_000, now: () => new Date(), log });
  await assert.rejects(reconcileOnce({ runPass: async () => 'ran', lease: me, log }), { code: 'KILN_LEASE_HELD' });
  // A peer that dies without releasing: its lease expires, and a waiting --once takes it then.
  const dying = new Lease({ kv, holder: 'dying', ttlMs: 800, now: () => new Date(), log });
  await peer.release();
  assert.equal((await dying.acquire()).held, true);
  assert.equal(await reconcileOnce({ runPass: async () => 'ran', lease: me, log, leaseWaitMs: 5000 }), 'ran');
  const entry = await kv.get('reconciler');
  assert.equal(entry?.json<{ holder: string; expiresAt: string }>().expiresAt, new Date(0).toISOString(), 'released after the pass');
});

test('pipeline lease - a wall clock set back after a renewal does not extend how long the pass may act', async () => {
  // Wall clock: set back one hour right after the write. Monotonic clock: 26 s pass (TTL 30 s, margin 5 s).
  let wall = Date.parse('2026-06-01T12:00:00Z');
  let mono = 1_000;
  const me = new Lease({ kv, holder: 'clock', ttlMs: 30_000, now: () => new Date(wall), monotonic: () => mono, log });
  await kv.delete('reconciler');
  assert.equal((await me.acquire()).held, true);
  me.assertHeld();
  wall -= 3_600_000;
  mono += 26_000;
  assert.throws(() => me.assertHeld(), { code: 'KILN_LEASE_LOST' }, 'the monotonic clock says the lease is (almost) over');
  await me.release();
});
