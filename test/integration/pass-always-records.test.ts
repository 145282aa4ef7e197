// A pass always records (issue 7 §3), with a real nats-server, git and agents
// running the NoopRunner: a step that fails after results were collected still
// gets them into a signed status commit (and acked), with the failing step named
// in conditions/Ready.yaml; a pass whose lease is lost stops before acting and
// records nothing; the loop wakes at a retry's time, not at its interval.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DiscardPolicy } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { NoopRunner } from '../../agents/noop-runner.ts';
import { readObserved } from '../../reconciler/status/reader.ts';
import { BUCKETS, LEASE_KEY, RESULTS_CONSUMER, STREAMS } from '../../schema/nats.ts';
import { debSource, startWorld, until, type World } from './reliability-harness.ts';

async function resultsLeft(w: World): Promise<number> {
  const info = await (await w.js.jetstreamManager()).consumers.info(STREAMS.results, RESULTS_CONSUMER);
  return info.num_pending + info.num_ack_pending;
}

const observed = async (w: World) => (await readObserved({ dir: w.repoDir, cache: {} })).state;

test('pass - a step failing after collect still records the results, acks them and names the step; the next good pass says Ready', async (t) => {
  const w = await startWorld({ alpha: { source: debSource({ name: 'alpha' }) } });
  t.after(() => w.close());
  const first = await w.reconciler();
  assert.equal((await first.runPass()).dispatched, 1);
  await w.agent('agent-a', new NoopRunner());
  await until(async () => (await resultsLeft(w)) === 1, 20_000, 'the result');

  // The dispatch step of the next pass fails (the fault seam of the pass), after the result was collected.
  const faulty = await w.reconciler({
    onStep: (s) => {
      if (s === 'dispatched') throw new Error('injected: the work queue refused the publish');
    },
  });
  await assert.rejects(faulty.runPass(), /injected: the work queue refused the publish/);
  const after = await observed(w);
  assert.deepEqual([...after.builds.values()].map((b) => b.state), ['succeeded'], 'the collected result is recorded');
  const ready = after.conditions.get('Ready');
  assert.equal(ready?.status, 'False');
  assert.equal(ready?.reason, 'DispatchFailed');
  assert.equal(ready?.step, 'dispatch');
  assert.match(ready?.message ?? '', /injected/);
  assert.equal(await resultsLeft(w), 0, 'and acked once recorded');

  const healthy = await w.reconciler();
  await healthy.runPass();
  const ok = (await observed(w)).conditions.get('Ready');
  assert.equal(ok?.status, 'True');
  assert.equal(ok?.reason, 'Reconciled');
  const commits = await w.statusCommits();
  await healthy.runPass();
  assert.equal(await w.statusCommits(), commits, 'a further good pass writes nothing (the condition did not change)');
});

test('pass - a reconciler that loses its lease mid-pass stops before acting and records nothing', async (t) => {
  const w = await startWorld({ alpha: { source: debSource({ name: 'alpha' }) } });
  t.after(() => w.close());
  const kv = await new Kvm(w.nc).open(BUCKETS.lease);
  let rec: Awaited<ReturnType<World['reconciler']>> | undefined;
  rec = await w.reconciler({
    onStep: async (s) => {
      if (s !== 'planned') return;
      // Another reconciler takes the lease (ours ran out, say after a long GC pause), and our
      // renewal learns of it: exactly what the watch loop's renewal timer does.
      const entry = await kv.get(LEASE_KEY);
      await kv.update(LEASE_KEY, JSON.stringify({ holder: 'peer', expiresAt: new Date(Date.now() + 60_000).toISOString() }), entry!.revision);
      assert.equal((await rec!.lease!.acquire()).held, false);
    },
  });
  assert.equal((await rec.lease!.acquire()).held, true);
  await assert.rejects(rec.runPass({ leased: true }), (e: Error & { code?: string }) => e.code === 'KILN_LEASE_LOST' && /peer/.test(e.message));
  const jsm = await w.js.jetstreamManager();
  assert.equal((await jsm.streams.info(STREAMS.builds)).state.messages, 0, 'nothing dispatched');
  assert.equal(await w.statusCommits(), 0, 'nothing recorded');
});

test('pass - a dispatch that fails part-way records the jobs that were queued before the failure', async (t) => {
  const w = await startWorld({ alpha: { source: debSource({ name: 'alpha' }) }, beta: { source: debSource({ name: 'beta' }) } });
  t.after(() => w.close());
  const rec = await w.reconciler();
  // The broker takes one job and refuses the next (a full work queue), a real partial failure.
  const jsm = await w.js.jetstreamManager();
  const cfg = (await jsm.streams.info(STREAMS.builds)).config;
  await jsm.streams.update(STREAMS.builds, { ...cfg, max_msgs: 1, discard: DiscardPolicy.New });
  await assert.rejects(rec.runPass(), /maximum messages/i);
  const after = await observed(w);
  assert.equal((await jsm.streams.info(STREAMS.builds)).state.messages, 1, 'one job on the queue');
  assert.deepEqual([...after.builds.values()].map((b) => b.state), ['queued'], 'and exactly that one recorded as queued');
  assert.equal(after.conditions.get('Ready')?.step, 'dispatch');
});
