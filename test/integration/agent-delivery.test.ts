// Result delivery on a real nats-server (agents with stand-in runners, no Docker):
// a result that cannot be delivered is retried as delivery (the build is not run
// again) and reported with its own reason, a bucket or stream deleted mid-run is
// made again, and a build whose files cannot be named in a result is a failed
// build, not a delivery that fails five times and ends as "poison".
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { join } from 'node:path';
import { test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { pino } from 'pino';
import { Agent } from '../../agents/agent.ts';
import { noopDeb } from '../../agents/noop-deb.ts';
import type { BuildRunner, RunOutcome } from '../../agents/runner.ts';
import { openNatsSession } from '../../reconciler/pipeline/nats-session.ts';
import { collectResults } from '../../reconciler/pass/collect-step.ts';
import { generateKey, loadSigner } from '../../reconciler/signing/signer.ts';
import { ensureTopology } from '../../reconciler/nats/topology.ts';
import { BUCKETS, OBJECTS, RESULTS_CONSUMER, STREAMS } from '../../schema/nats.ts';
import { until } from '../helpers/until.ts';
import { makeJob, publishJob, quietLog, startHarness, streamMessages, takeResults, type Harness } from '../fixtures/agent-jobs.ts';

const noJob = { url: '/nonexistent', commit: 'a'.repeat(40) };
const FAST = { tries: 4, baseMs: 100, capMs: 400 };

/** A runner that yields one valid .deb under `name` (default: its Debian name), after `before` ran. */
function runner(opts: { name?: string; before?: () => Promise<void> } = {}): BuildRunner & { runs: number } {
  const r = {
    name: 'stand-in',
    needsSource: false,
    runs: 0,
    async run(job: Parameters<BuildRunner['run']>[0], work: Parameters<BuildRunner['run']>[1]): Promise<RunOutcome> {
      r.runs++;
      await opts.before?.();
      const deb = await noopDeb(job.inputs, job.key);
      const file = join(work.root, opts.name ?? deb.name);
      await writeFile(file, deb.bytes);
      return { exitCode: 0, oomKilled: false, timedOut: false, artifacts: [file] };
    },
  };
  return r;
}

async function agentWith(h: Harness, t: { after(fn: () => Promise<void>): void }, r: BuildRunner) {
  const a = new Agent({ nc: h.nc, pool: 'deb', arch: 'amd64', workDir: h.workDir, log: quietLog, id: 'agent-delivery', runner: r, delivery: FAST });
  t.after(async () => {
    await a.close();
    await h.close();
  });
  await a.start();
  return a;
}

/** Poll until the job left the work queue (acked), or fail at the deadline. */
async function jobAcked(h: Harness, ms = 15_000): Promise<void> {
  await until(async () => (await streamMessages(h.nc, STREAMS.builds)) === 0, ms, 'the job to be acked');
}

test('agent delivery - an artifact name a result cannot carry is a failed build, reported once', async (t) => {
  const h = await startHarness();
  const r = runner({ name: 'hello kiln_1.0_amd64.deb' });
  await agentWith(h, t, r);
  const job = makeJob(noJob);
  await publishJob(h.nc, job);
  const [res] = await takeResults(h.nc, 1, 20_000);
  assert.equal(res.key, job.key);
  assert.equal(res.outcome, 'failed');
  assert.equal(res.failureClass, 'build');
  assert.match(res.reason ?? '', /the build produced "hello kiln_1\.0_amd64\.deb": artifact names are/);
  await jobAcked(h);
  assert.equal(r.runs, 1, 'built once: not handed back and rebuilt');
});

test('agent delivery - the artifacts bucket deleted mid-build is made again, and the build is delivered without a rebuild', async (t) => {
  const h = await startHarness();
  const jsm = await jetstreamManager(h.nc);
  const r = runner({ before: async () => void (await jsm.streams.delete(`OBJ_${BUCKETS.artifacts}`)) });
  await agentWith(h, t, r);
  const job = makeJob(noJob);
  await publishJob(h.nc, job);
  const [res] = await takeResults(h.nc, 1, 20_000);
  assert.equal(res.outcome, 'succeeded', res.reason);
  const os = await new Objm(h.nc).open(BUCKETS.artifacts);
  assert.equal((await os.info(OBJECTS.artifact(res.artifacts[0].sha256)))?.size, res.artifacts[0].size, 'the artifact is in the bucket made again');
  await jobAcked(h);
  assert.equal(r.runs, 1);
});

test('agent delivery - the results stream deleted mid-build is made again; the reconciler binds to it on its next look', async (t) => {
  const h = await startHarness();
  const jsm = await jetstreamManager(h.nc);
  const r = runner({ before: async () => void (await jsm.streams.delete(STREAMS.results)) });
  await agentWith(h, t, r);
  const job = makeJob(noJob);
  await publishJob(h.nc, job);
  await jobAcked(h);
  assert.equal(await streamMessages(h.nc, STREAMS.results), 1, 'the result waits in the stream the agent made again');
  // The reconciler's session finds its consumer gone and makes it again (as every pass's first look does).
  const session = await openNatsSession(h.srv.url, { name: 'delivery-test', log: quietLog, pools: { deb: { architectures: ['amd64'] } } });
  t.after(() => session.close());
  await jsm.consumers.delete(STREAMS.results, RESULTS_CONSUMER);
  assert.equal(await session.resultsWaiting(), 1);
  await jsm.consumers.delete(STREAMS.results, RESULTS_CONSUMER); // and again: a pass's collect makes it again too
  const signer = await loadSigner((await generateKey({ name: 'r', email: 'r@kiln.invalid' })).privateKeyArmored);
  const collected = await collectResults(session, { max: 10, waitMs: 1000, signer, artifactsDir: join(h.workDir, 'artifacts'), log: pino({ level: 'silent' }) });
  assert.deepEqual(collected.results.map((x) => [x.key, x.outcome]), [[job.key, 'succeeded']]);
  await Promise.all(collected.pending.map((p) => p.ack()));
  assert.equal(r.runs, 1);
});

test('agent delivery - a result that cannot be delivered is reported as such (infra), once, and not rebuilt', async (t) => {
  const h = await startHarness();
  // A bucket that exists but takes nothing: not repairable by making it again.
  const jsm = await jetstreamManager(h.nc);
  await jsm.streams.delete(`OBJ_${BUCKETS.artifacts}`);
  await new Objm(h.nc).create(BUCKETS.artifacts, { max_bytes: 64 });
  const r = runner();
  await agentWith(h, t, r);
  const job = makeJob(noJob);
  await publishJob(h.nc, job);
  const [res] = await takeResults(h.nc, 1, 30_000);
  assert.equal(res.outcome, 'failed');
  assert.equal(res.failureClass, 'infra');
  assert.match(res.reason ?? '', /^the build succeeded, but its result could not be delivered after 4 tries: /);
  assert.deepEqual(res.artifacts, []);
  await jobAcked(h);
  assert.equal(r.runs, 1);
  await ensureTopology(h.nc, { pools: { deb: { architectures: ['amd64'] } } }); // the harness closes cleanly
});

test('agent delivery - a build whose result could not be published at all is kept, and delivered (not rebuilt) when its job comes back', async (t) => {
  const h = await startHarness();
  const jsm = await jetstreamManager(h.nc);
  const lines: string[] = [];
  const log = pino({ level: 'info' }, new Writable({ write: (c, _e, done) => (lines.push(String(c)), done()) }));
  // The results stream is there by name but takes no result subject: nothing the agent can make again fixes it.
  const block = async () => {
    await jsm.streams.delete(STREAMS.results);
    await jsm.streams.add({ name: STREAMS.results, subjects: ['blocked.>'] });
  };
  const r = runner({ before: block });
  const a = new Agent({ nc: h.nc, pool: 'deb', arch: 'amd64', workDir: h.workDir, log, id: 'agent-kept', runner: r, delivery: FAST });
  t.after(async () => {
    await a.close();
    await h.close();
  });
  await a.start();
  const job = makeJob(noJob);
  await publishJob(h.nc, job);
  await until(() => lines.some((l) => l.includes('could not publish any build result') && l.includes('"kept":true')), 20_000, 'the agent to give up delivering and keep the build');
  await jsm.streams.delete(STREAMS.results);
  await ensureTopology(h.nc, { pools: { deb: { architectures: ['amd64'] } } });
  const [res] = await takeResults(h.nc, 1, 30_000);
  assert.equal(res.key, job.key);
  assert.equal(res.outcome, 'succeeded', res.reason);
  await jobAcked(h);
  assert.equal(r.runs, 1, 'built once: the redelivered job delivered what was kept');
  assert.ok(lines.some((l) => l.includes('delivering the build kept from an earlier delivery')));
});

test('agent delivery - a pass that finds the artifacts bucket gone makes it again and records the build as lost (infra), not tampered with', async (t) => {
  const h = await startHarness();
  const r = runner();
  await agentWith(h, t, r);
  const job = makeJob(noJob);
  await publishJob(h.nc, job);
  await jobAcked(h);
  const session = await openNatsSession(h.srv.url, { name: 'delivery-test-lost', log: quietLog, pools: { deb: { architectures: ['amd64'] } } });
  t.after(() => session.close());
  const jsm = await jetstreamManager(h.nc);
  await jsm.streams.delete(`OBJ_${BUCKETS.artifacts}`);
  const signer = await loadSigner((await generateKey({ name: 'r', email: 'r@kiln.invalid' })).privateKeyArmored);
  const collected = await collectResults(session, { max: 10, waitMs: 1000, signer, artifactsDir: join(h.workDir, 'artifacts'), log: quietLog });
  const [res] = collected.results;
  assert.equal(res.outcome, 'failed');
  assert.equal(res.failureClass, 'infra', res.reason);
  assert.match(res.reason ?? '', /^artifacts lost: .*missing from the object store/);
  assert.ok(await jsm.streams.info(`OBJ_${BUCKETS.artifacts}`), 'the bucket is there again');
  await Promise.all(collected.pending.map((p) => p.ack()));
});
