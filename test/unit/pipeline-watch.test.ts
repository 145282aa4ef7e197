import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { afterPass, nextPassReason, reconcileOnce, type LoopState } from '../../reconciler/watch.ts';
import { leaseStep } from '../../reconciler/pipeline/lease.ts';
import { InvalidMetadataError } from '../../schema/errors.ts';

const base = { head: 'h1', results: 0, resultsWaitingMs: 0, now: 10_000, intervalMs: 5_000, batchMs: 500, batchMax: 100 };

test('pipeline watch - when a pass is due', () => {
  const ran: LoopState = { lastHead: 'h1', lastPassAt: 9_000, failures: 0 };
  const cases: { name: string; s: LoopState; o?: Partial<typeof base>; want: string | undefined }[] = [
    { name: 'first pass', s: { failures: 0 }, want: 'start' },
    { name: 'nothing changed', s: ran, want: undefined },
    { name: 'HEAD moved', s: ran, o: { head: 'h2' }, want: 'new commit' },
    { name: 'results just arrived: batch them', s: ran, o: { results: 3, resultsWaitingMs: 100 }, want: undefined },
    { name: 'results waited long enough', s: ran, o: { results: 3, resultsWaitingMs: 500 }, want: 'results waiting' },
    { name: 'a full batch of results', s: ran, o: { results: 100, resultsWaitingMs: 0 }, want: 'results waiting' },
    { name: 'draining a burst: the rest is taken at once', s: { ...ran, draining: true }, o: { results: 3, resultsWaitingMs: 0 }, want: 'results waiting' },
    { name: 'draining, but nothing left', s: { ...ran, draining: true }, want: undefined },
    { name: 'woken', s: { ...ran, woken: 'webhook' }, want: 'webhook' },
    { name: 'interval elapsed', s: ran, o: { now: 14_000 }, want: 'interval' },
    { name: 'backing off ignores everything', s: { ...ran, failures: 2, retryAt: 12_000 }, o: { head: 'h2', results: 500, resultsWaitingMs: 9999 }, want: undefined },
    { name: 'backoff over', s: { ...ran, failures: 2, retryAt: 10_000 }, want: 'retry after 2 failed pass(es)' },
    { name: 'stalled: results and interval do not help', s: { ...ran, stalledHead: 'h1' }, o: { results: 500, resultsWaitingMs: 9999, now: 99_000 }, want: undefined },
    { name: 'stalled: a new commit does', s: { ...ran, stalledHead: 'h1' }, o: { head: 'h2' }, want: 'new commit after a stalled pass' },
  ];
  for (const c of cases) assert.equal(nextPassReason(c.s, { ...base, ...c.o }), c.want, c.name);
});

test('pipeline watch - state after a pass: success resets, failure backs off, stalled waits for HEAD', () => {
  const retry = { baseMs: 1000, capMs: 8000 };
  const s0: LoopState = { failures: 0 };
  assert.deepEqual(afterPass({ failures: 3, retryAt: 1 }, 'h1', 100, undefined, retry, () => 0), { lastHead: 'h1', lastPassAt: 100, failures: 0 });
  assert.equal(afterPass(s0, 'h1', 100, undefined, retry, () => 0, 250).draining, true, 'a pass that collected results is draining');
  assert.equal(afterPass({ failures: 0, draining: true }, 'h1', 100, undefined, retry, () => 0, 0).draining, undefined, 'an idle pass ends draining');
  const f1 = afterPass(s0, 'h1', 100, new Error('nats down'), retry, () => 0.999);
  assert.equal(f1.failures, 1);
  assert.ok(f1.retryAt! > 100 + 500 && f1.retryAt! <= 100 + 1000, `retryAt ${f1.retryAt}`);
  const f4 = [2, 3, 4, 5].reduce((s) => afterPass(s, 'h1', 100, new Error('x'), retry, () => 0.999), f1);
  assert.equal(f4.failures, 5);
  assert.ok(f4.retryAt! <= 100 + 8000, 'capped');
  const st = afterPass(f4, 'h1', 200, new InvalidMetadataError([{ file: 'packages/a.yaml', line: 1, message: 'bad', severity: 'error' }]), retry, () => 0);
  assert.equal(st.stalledHead, 'h1');
  assert.equal(st.retryAt, undefined);
  assert.equal(nextPassReason(st, { ...base, now: 1e9, intervalMs: 1 }), undefined);
});

test('pipeline lease - create, renew, wait for a live holder, take an expired one', () => {
  const now = new Date('2026-01-01T00:00:10Z');
  assert.deepEqual(leaseStep(undefined, 'me', now), { op: 'create' });
  assert.deepEqual(leaseStep({ holder: 'me', expiresAt: '2026-01-01T00:00:00Z' }, 'me', now), { op: 'renew' });
  assert.deepEqual(leaseStep({ holder: 'peer', expiresAt: '2026-01-01T00:00:20Z' }, 'me', now), { op: 'wait', holder: 'peer', expiresAt: '2026-01-01T00:00:20Z' });
  assert.deepEqual(leaseStep({ holder: 'peer', expiresAt: '2026-01-01T00:00:10Z' }, 'me', now), { op: 'take', from: 'peer' });
});

test('pipeline watch - a wait that ends by itself (a retry time) wakes the loop then, not at the interval', () => {
  const base = { head: 'h1', results: 0, resultsWaitingMs: 0, intervalMs: 60_000, batchMs: 500, batchMax: 1000 };
  const s = afterPass({ failures: 0 }, 'h1', 1000, undefined, { baseMs: 1, capMs: 1 }, () => 0, 0, 5000);
  assert.equal(s.wakeAt, 5000);
  assert.equal(nextPassReason(s, { ...base, now: 4999 }), undefined, 'not before');
  assert.equal(nextPassReason(s, { ...base, now: 5000 }), 'retry time reached');
  assert.equal(afterPass(s, 'h1', 5001, undefined, { baseMs: 1, capMs: 1 }, () => 0, 0, undefined).wakeAt, undefined, 'the next plan has no wait: no wake');
});

test('pipeline watch - lease renewals during a pass never overlap (a slow one is not raced by the next)', async (t) => {
  // The renewal timer is driven by mock timers; a renewal hangs until released, like a request
  // waiting out a broker's leader election.
  t.mock.timers.enable({ apis: ['setInterval'] });
  let calls = 0;
  const hung: (() => void)[] = [];
  const lease = {
    acquire: () => {
      calls++;
      if (calls === 1) return Promise.resolve({ held: true });
      return new Promise<{ held: boolean }>((resolve) => hung.push(() => resolve({ held: true })));
    },
    release: async () => undefined,
  };
  const flush = () => new Promise((r) => setImmediate(r));
  const ran = await reconcileOnce({
    lease,
    log: pino({ level: 'silent' }),
    leaseRenewMs: 10,
    runPass: async () => {
      t.mock.timers.tick(10);
      assert.equal(calls, 2, 'the first renewal started');
      for (let i = 0; i < 5; i++) t.mock.timers.tick(10);
      assert.equal(calls, 2, 'no second renewal while the first is still waiting');
      hung.shift()!();
      await flush();
      t.mock.timers.tick(10);
      assert.equal(calls, 3, 'the next renewal once the first answered');
      hung.shift()!();
      return 'ran';
    },
  });
  assert.equal(ran, 'ran');
});
