// A pass drains a burst (collect-step.ts drainMs): results that arrive while it judges the first
// ones join the same collection (one status commit), on a real nats-server with a real agent
// (stand-in runner, no Docker). Their small logs came in the results: no log object is stored.
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { Agent } from '../../agents/agent.ts';
import { noopDeb } from '../../agents/noop-deb.ts';
import type { BuildRunner, RunOutcome } from '../../agents/runner.ts';
import { collectResults, type CollectOptions } from '../../reconciler/pass/collect-step.ts';
import { openNatsSession } from '../../reconciler/pipeline/nats-session.ts';
import { generateKey, loadSigner } from '../../reconciler/signing/signer.ts';
import { BUCKETS, RESULTS_CONSUMER, STREAMS } from '../../schema/nats.ts';
import { until } from '../helpers/until.ts';
import { makeJob, publishJob, quietLog, startHarness } from '../fixtures/agent-jobs.ts';

/** Builds a no-op .deb; packages named late-* wait until `release()`. */
function gatedRunner(): BuildRunner & { release(): void } {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  return {
    name: 'gated',
    needsSource: false,
    release,
    async run(job, work): Promise<RunOutcome> {
      if (job.inputs.package.startsWith('late-')) await gate;
      const deb = await noopDeb(job.inputs, job.key);
      const file = join(work.root, deb.name);
      await writeFile(file, deb.bytes);
      return { exitCode: 0, oomKilled: false, timedOut: false, artifacts: [file] };
    },
  };
}

async function world(t: { after(fn: () => Promise<void>): void }) {
  const h = await startHarness();
  const runner = gatedRunner();
  const agent = new Agent({ nc: h.nc, pool: 'deb', arch: 'amd64', workDir: h.workDir, log: quietLog, id: 'drain-agent', runner, concurrency: 4 });
  const session = await openNatsSession(h.srv.url, { name: 'drain-test', log: quietLog, pools: { deb: { architectures: ['amd64'] } } });
  t.after(async () => {
    runner.release();
    await agent.close();
    await session.close();
    await h.close();
  });
  await agent.start();
  const signer = await loadSigner((await generateKey({ name: 'r', email: 'r@kiln.invalid' })).privateKeyArmored);
  const opts: CollectOptions = { max: 4, waitMs: 1000, signer, artifactsDir: join(h.workDir, 'artifacts'), log: quietLog };
  const jsm = await jetstreamManager(h.nc);
  const jobs = ['early-a', 'early-b', 'late-a', 'late-b'].map((name) => makeJob({ url: '/nonexistent', commit: 'a'.repeat(40), package: name }));
  for (const job of jobs) await publishJob(h.nc, job);
  await until(async () => (await session.resultsWaiting()) === 2, 20_000, 'the two early results');
  const heldByCollect = async (n: number) => (await jsm.consumers.info(STREAMS.results, RESULTS_CONSUMER)).num_ack_pending >= n;
  return { h, runner, session, opts, heldByCollect };
}

test('collect drain - results that arrive while a pass judges the first ones are taken by the same collection', async (t) => {
  const { h, runner, session, opts, heldByCollect } = await world(t);
  // Idle window and cap far beyond the test: it ends because all four were taken (max).
  const collecting = collectResults(session, { ...opts, drainMs: 60_000, drainIdleMs: 60_000 });
  await until(() => heldByCollect(2), 20_000, 'the first round to take the early results');
  runner.release(); // the late builds finish only now, while the collection is under way
  const collected = await collecting;
  assert.deepEqual(collected.results.map((r) => `${r.inputs.package}:${r.outcome}`).sort(), ['early-a:succeeded', 'early-b:succeeded', 'late-a:succeeded', 'late-b:succeeded']);
  for (const r of collected.results) assert.equal(r.log?.object, undefined, 'a small log comes in its result');
  const os = await new Objm(h.nc).open(BUCKETS.artifacts);
  assert.deepEqual((await os.list()).filter((o) => o.name.startsWith('logs/')), [], 'no log object was put');
  await Promise.all(collected.pending.map((p) => p.ack()));
  assert.equal(await session.resultsWaiting(), 0);
});

test('collect drain - without drainMs a collection takes what is there, and a pass that finds nothing does not wait', async (t) => {
  const { runner, session, opts, heldByCollect } = await world(t);
  const first = await collectResults(session, opts);
  assert.deepEqual(first.results.map((r) => r.inputs.package).sort(), ['early-a', 'early-b']);
  assert.ok(await heldByCollect(2));
  await Promise.all(first.pending.map((p) => p.ack()));
  const t0 = Date.now();
  const none = await collectResults(session, { ...opts, drainMs: 60_000, drainIdleMs: 60_000 });
  assert.deepEqual(none.results, []);
  assert.ok(Date.now() - t0 < 30_000, 'nothing there: no drain wait');
  runner.release();
  await until(async () => (await session.resultsWaiting()) === 2, 20_000, 'the late results');
  const second = await collectResults(session, opts);
  assert.deepEqual(second.results.map((r) => r.inputs.package).sort(), ['late-a', 'late-b']);
  await Promise.all(second.pending.map((p) => p.ack()));
});
