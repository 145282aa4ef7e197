// kiln-test: long (scripts/test starts it first, so the run does not end waiting on it)
// Crash safety of the reconciler and the queue, with a real nats-server, real git
// repos and real agents running the NoopRunner (these tests are about the queue
// and the status branch, not about building; the Docker ones are in
// reliability-builds.test.ts). Crashes are real SIGKILLs of child processes.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { NoopRunner } from '../../agents/noop-runner.ts';
import type { BuildRunner, RunOptions, WorkDir } from '../../agents/runner.ts';
import { RESULTS_CONSUMER, STREAMS, SUBJECTS } from '../../schema/nats.ts';
import type { BuildJob, BuildResult } from '../../schema/messages.ts';
import { STATUS_BRANCH, STATUS_LAYOUT } from '../../schema/status.ts';
import { git } from '../helpers/git.ts';
import { watch } from '../../reconciler/watch.ts';
import { debSource, passInChild, quiet, startWorld, until, type World } from './reliability-harness.ts';

/** NoopRunner that counts how often each build key actually ran. */
class CountingRunner implements BuildRunner {
  readonly name = 'counting-noop';
  readonly needsSource = false;
  readonly runs = new Map<string, string[]>();
  private readonly inner: NoopRunner;
  constructor(
    private readonly agent: string,
    delayMs: number,
    private readonly shared: Map<string, string[]>,
  ) {
    this.inner = new NoopRunner({ delayMs });
  }
  run(job: BuildJob, work: WorkDir, opts: RunOptions) {
    this.shared.set(job.key, [...(this.shared.get(job.key) ?? []), `${this.agent}#${job.attempt}`]);
    return this.inner.run(job, work, opts);
  }
}

const three = () => ({ alpha: { source: debSource({ name: 'alpha' }) }, beta: { source: debSource({ name: 'beta' }) }, gamma: { source: debSource({ name: 'gamma' }) } });

async function resultsLeft(w: World): Promise<number> {
  const info = await (await w.js.jetstreamManager()).consumers.info(STREAMS.results, RESULTS_CONSUMER);
  return info.num_pending + info.num_ack_pending;
}

async function buildsQueued(w: World): Promise<number> {
  return (await (await w.js.jetstreamManager()).streams.info(STREAMS.builds)).state.messages;
}

const waitAckExpiry = () => new Promise((r) => setTimeout(r, 2600)); // results ack wait is 2 s in these tests

test('reliability - reconciler SIGKILLed after dispatch, after collect (before commit) and after commit (before ack): nothing lost, nothing twice (NoopRunner)', async (t) => {
  const w = await startWorld(three());
  t.after(() => w.close());

  // 1. Killed right after dispatching: jobs are queued, no record of them in git.
  const c1 = await passInChild(w, 'dispatched');
  assert.equal(c1.signal, 'SIGKILL', c1.out);
  assert.equal(await w.statusCommits(), 0, 'nothing recorded');
  assert.equal(await buildsQueued(w), 3, 'the three jobs are on the work queue');

  const runs = new Map<string, string[]>();
  await w.agent('noop-1', new CountingRunner('noop-1', 20, runs));
  await until(async () => (await resultsLeft(w)) === 3, 20_000, 'three results');

  // 2. Killed after collecting and verifying the results, before the status commit.
  const c2 = await passInChild(w, 'published');
  assert.equal(c2.signal, 'SIGKILL', c2.out);
  assert.equal(await w.statusCommits(), 0, 'still nothing recorded');
  assert.equal(await resultsLeft(w), 3, 'the results were not acked');

  // 3. Killed after the status commit, before acking.
  await waitAckExpiry();
  const c3 = await passInChild(w, 'recorded');
  assert.equal(c3.signal, 'SIGKILL', c3.out);
  assert.equal(await w.statusCommits(), 1, 'one commit recorded all three');
  const recorded = await w.records();
  assert.deepEqual([...recorded.values()].map((r) => r.state), ['succeeded', 'succeeded', 'succeeded']);
  assert.equal(await resultsLeft(w), 3, 'killed before the ack: the results come back');

  // 4. A healthy reconciler: the redelivered results change nothing; they are acked.
  await waitAckExpiry();
  const rec = await w.reconciler();
  const report = await rec.runPass();
  assert.equal(report.results, 3, 'the redelivered results were collected');
  assert.equal(report.statusCommit, null, 'and recorded nothing new');
  assert.equal(await resultsLeft(w), 0, 'acked');
  assert.equal((await rec.runPass()).dispatched, 0, 'a further pass plans no build');

  assert.equal(await w.statusCommits(), 1);
  const records = await w.records();
  assert.equal(records.size, 3);
  for (const r of records.values()) {
    assert.equal(r.state, 'succeeded');
    assert.equal(r.attempts.length, 1, `${r.inputs.package}: one attempt`);
    assert.deepEqual(runs.get(r.key), ['noop-1#1'], `${r.inputs.package} was built exactly once`);
    const sig = await git(w.repoDir, 'show', `${STATUS_BRANCH}:${STATUS_LAYOUT.signature(r.artifacts![0].sha256)}`);
    assert.match(sig, /BEGIN PGP SIGNATURE/);
  }
  assert.equal(runs.size, 3);
  assert.equal(await buildsQueued(w), 0, 'no duplicate job left on the queue');
});

test('reliability - two reconcilers dispatch the same builds at once: each built once; two agents share four jobs (NoopRunner)', async (t) => {
  const w = await startWorld({ ...three(), delta: { source: debSource({ name: 'delta' }) } });
  t.after(() => w.close());
  const runs = new Map<string, string[]>();
  await w.agent('noop-a', new CountingRunner('noop-a', 400, runs));
  await w.agent('noop-b', new CountingRunner('noop-b', 400, runs));
  const [a, b] = [await w.reconciler(), await w.reconciler()];
  const [ra, rb] = await Promise.all([a.runPass(), b.runPass()]);
  assert.equal(ra.dispatched + rb.dispatched, 4, 'four jobs published in all');
  assert.equal(ra.duplicates + rb.duplicates, 4, 'the other four publishes were deduplicated by message id');

  const records = await w.converge(a, (r) => r.size === 4 && [...r.values()].every((x) => x.state === 'succeeded'), 30_000);
  for (const r of records.values()) {
    assert.equal(r.attempts.length, 1, `${r.inputs.package}: one attempt`);
    assert.equal(runs.get(r.key)?.length, 1, `${r.inputs.package} built once`);
  }
  const agents = new Set([...records.values()].map((r) => r.attempts[0].agent));
  assert.deepEqual([...agents].sort(), ['noop-a', 'noop-b'], 'both agents got work');
  await b.runPass();
  assert.equal(await resultsLeft(w), 0);
});

test('reliability - nats-server restarted on the same store mid-run: everything converges (NoopRunner)', async (t) => {
  const w = await startWorld(three());
  t.after(() => w.close());
  const runs = new Map<string, string[]>();
  await w.agent('noop-r', new CountingRunner('noop-r', 1500, runs));
  const rec = await w.reconciler();
  assert.equal((await rec.runPass()).dispatched, 3);
  await until(async () => runs.size >= 1, 10_000, 'a build running');
  await w.nats.restart();
  // The watch loop carries on through the outage: failed passes are retried with backoff.
  const ctl = new AbortController();
  const loop = watch(
    { runPass: () => rec.runPass(), readHead: () => rec.readHead(), lease: rec.lease, log: quiet, signal: ctl.signal, now: () => new Date(), random: Math.random },
    { intervalMs: 300, pollMs: 200, retry: { baseMs: 300, capMs: 1000 } },
  );
  t.after(() => ctl.abort());
  const records = await until(async () => {
    const r = await w.records();
    return r.size === 3 && [...r.values()].every((x) => x.state === 'succeeded') && (await resultsLeft(w)) === 0 ? r : undefined;
  }, 60_000, 'all three recorded as built');
  ctl.abort();
  await loop.done;
  for (const r of records.values()) assert.ok(r.attempts.length <= 2, `${r.inputs.package}: ${r.attempts.length} attempt(s)`);
  for (const [key, ran] of runs) assert.ok(ran.length <= 2, `${key} ran ${ran.length} times (at most once more after the restart)`);
  assert.equal(await buildsQueued(w), 0);
});

test('reliability - an artifact whose bytes no longer match its digest is never recorded as a success (NoopRunner)', async (t) => {
  const w = await startWorld({ alpha: { source: debSource({ name: 'alpha' }) } });
  t.after(() => w.close());
  const rec = await w.reconciler();
  await rec.runPass();
  const [queued] = [...(await w.records()).values()];
  await w.agent('noop-t', new NoopRunner({ delayMs: 0 }));
  await until(async () => (await resultsLeft(w)) === 1, 20_000, 'the result');
  const jsm = await w.js.jetstreamManager();
  const result = (await jsm.streams.getMessage(STREAMS.results, { last_by_subj: SUBJECTS.result(queued.key) }))!.json<BuildResult>();
  const claimed = result.artifacts[0];
  // Tamper: same object name, other bytes.
  await w.objectStore.putBlob({ name: `sha256/${claimed.sha256}` }, new TextEncoder().encode('tampered bytes'));

  await rec.runPass();
  const r = (await w.records()).get(queued.key)!;
  assert.equal(r.state, 'failed');
  assert.equal(r.failure?.class, 'integrity');
  assert.equal(r.failure?.retryable, false);
  assert.match(r.failure!.reason, new RegExp(`not the claimed ${claimed.sha256}`));
  assert.equal(r.artifacts, undefined, 'no artifacts on the record');
  await assert.rejects(git(w.repoDir, 'show', `${STATUS_BRANCH}:${STATUS_LAYOUT.signature(claimed.sha256)}`), 'nothing was signed');
  assert.equal((await rec.runPass()).dispatched, 0, 'not retried automatically');
  assert.equal(await resultsLeft(w), 0);
});
