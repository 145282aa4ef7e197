// kiln-test: long (scripts/test starts it first, so the run does not end waiting on it)
// Faults beyond one process: a real 3-node JetStream cluster. Kiln's streams and
// buckets are created with three replicas, and the real loop (watch + reconcile
// passes in process, agents running the NoopRunner) rides out a SIGKILL of a
// stream leader and then of the meta leader: every build ends with exactly one
// record on kiln/status and nothing is lost.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'node:test';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { NoopRunner } from '../../agents/noop-runner.ts';
import type { BuildRunner, RunOptions, WorkDir } from '../../agents/runner.ts';
import { connectNats } from '../../reconciler/nats/connect.ts';
import { ensureTopology } from '../../reconciler/nats/topology.ts';
import { watch } from '../../reconciler/watch.ts';
import type { BuildJob } from '../../schema/messages.ts';
import { BUCKETS, buildConsumerName, RESULTS_CONSUMER, STREAMS, SUBJECTS } from '../../schema/nats.ts';
import { STATUS_BRANCH, STATUS_LAYOUT } from '../../schema/status.ts';
import { git } from '../helpers/git.ts';
import { startNatsCluster, type NatsCluster } from '../helpers/nats-cluster.ts';
import { debSource, quiet, ROOT, startWorld, until, type World } from './reliability-harness.ts';

/** NoopRunner that remembers which build keys ran, and how often. */
class CountingRunner implements BuildRunner {
  readonly name = 'counting-noop';
  readonly needsSource = false;
  private readonly inner: NoopRunner;
  constructor(
    private readonly runs: Map<string, number>,
    delayMs: number,
  ) {
    this.inner = new NoopRunner({ delayMs });
  }
  run(job: BuildJob, work: WorkDir, opts: RunOptions) {
    this.runs.set(job.key, (this.runs.get(job.key) ?? 0) + 1);
    return this.inner.run(job, work, opts);
  }
}

const BUILDS = 12;

async function pending(w: World<NatsCluster>): Promise<{ results: number; jobs: number }> {
  const jsm = await w.js.jetstreamManager(false);
  const r = await jsm.consumers.info(STREAMS.results, RESULTS_CONSUMER);
  return { results: r.num_pending + r.num_ack_pending, jobs: (await jsm.streams.info(STREAMS.builds)).state.messages };
}

test('cluster - stream leader then meta leader SIGKILLed mid-run: R3 topology, one record per build, nothing lost (NoopRunner)', async (t) => {
  const packages = Object.fromEntries(Array.from({ length: BUILDS }, (_, i) => [`pkg${i}`, { source: debSource({ name: `pkg${i}` }) }]));
  const w = await startWorld(packages, () => startNatsCluster());
  t.after(() => w.close());

  const jsm = await w.js.jetstreamManager(false);
  for (const s of [STREAMS.builds, STREAMS.results, STREAMS.logs, `KV_${BUCKETS.lease}`, `KV_${BUCKETS.agents}`, `OBJ_${BUCKETS.artifacts}`]) {
    assert.equal((await jsm.streams.info(s)).config.num_replicas, 3, `${s} has three replicas`);
  }

  const runs = new Map<string, number>();
  await w.agent('failover-a', new CountingRunner(runs, 700));
  await w.agent('failover-b', new CountingRunner(runs, 700));
  const rec = await w.reconciler();
  const ctl = new AbortController();
  t.after(() => ctl.abort());
  const loop = watch(
    { runPass: () => rec.runPass({ leased: true }), readHead: () => rec.readHead(), lease: rec.lease, log: quiet, signal: ctl.signal, now: () => new Date(), random: Math.random },
    { intervalMs: 300, pollMs: 200, retry: { baseMs: 300, capMs: 2000 } },
  );

  // Mid-run: some builds done, most still queued.
  await until(async () => runs.size >= 2, 30_000, 'two builds run');
  const streamLeader = await w.nats.streamLeader(STREAMS.builds);
  await streamLeader.kill('SIGKILL');
  const afterFirst = runs.size;
  await until(async () => runs.size >= afterFirst + 2, 60_000, 'builds go on after the stream leader died');
  // Two of three nodes keep a quorum; bring the third back before the next kill, or one would be left alone.
  await streamLeader.start();
  const metaLeader = await w.nats.metaLeader();
  await metaLeader.kill('SIGKILL');
  const afterSecond = runs.size;
  assert.ok(afterSecond < BUILDS, `the meta leader died mid-run (${afterSecond} of ${BUILDS} built)`);
  await until(async () => runs.size >= Math.min(BUILDS, afterSecond + 2), 60_000, 'builds go on after the meta leader died');
  await metaLeader.start();

  const records = await until(async () => {
    const r = await w.records();
    const done = r.size === BUILDS && [...r.values()].every((x) => x.state === 'succeeded');
    if (!done) return undefined;
    const p = await pending(w).catch(() => undefined);
    return p && p.results === 0 && p.jobs === 0 ? r : undefined;
  }, 120_000, `all ${BUILDS} builds recorded as succeeded, nothing left on the queues`);
  ctl.abort();
  await loop.done;

  // Exactly one record file per build key, each a success with its artifact signed.
  const files = (await git(w.repoDir, 'ls-tree', '-r', '--name-only', STATUS_BRANCH)).split('\n').filter((f) => f.startsWith('builds/'));
  assert.equal(files.length, BUILDS, 'one record file per build');
  assert.deepEqual(new Set([...records.values()].map((r) => r.inputs.package)).size, BUILDS, 'every package recorded once');
  for (const r of records.values()) {
    assert.ok(files.includes(STATUS_LAYOUT.build(r.key)), `${r.inputs.package}: record under its key`);
    assert.ok(r.attempts.length <= 2, `${r.inputs.package}: ${r.attempts.length} attempt(s)`);
    assert.ok(runs.has(r.key), `${r.inputs.package} was built`);
    assert.match(await git(w.repoDir, 'show', `${STATUS_BRANCH}:${STATUS_LAYOUT.signature(r.artifacts![0].sha256)}`), /BEGIN PGP SIGNATURE/);
  }
});

test('cluster - a publish during a stream leader election waits for the new leader; a plain client fails', async (t) => {
  const cluster = await startNatsCluster(t);
  const nc = await connectNats(cluster.url, { name: 'kiln-test', log: quiet, reconnectTimeWaitMs: 250 });
  t.after(() => nc.close());
  await ensureTopology(nc, { pools: { deb: { architectures: ['amd64'] } } });
  const leader = await cluster.streamLeader(STREAMS.results);
  const other = cluster.nodes.find((n) => n !== leader)!;
  const plain = await connect({ servers: other.url });
  t.after(() => plain.close());

  await leader.kill('SIGKILL');
  await assert.rejects(jetstream(plain).publish(SUBJECTS.result('k1'), 'x', { msgID: 'k1.1.result' }), 'without retries the election is an error');
  const t0 = Date.now();
  const ack = await jetstream(nc).publish(SUBJECTS.result('k2'), 'x', { msgID: 'k2.1.result' });
  assert.equal(ack.stream, STREAMS.results);
  assert.equal(ack.duplicate, false);
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  assert.equal((await jsm.streams.info(STREAMS.results)).state.messages, 1, `stored once (after ${Date.now() - t0} ms)`);
});

test('cluster - the topology is ensured while the meta leader is being re-elected', async (t) => {
  const cluster = await startNatsCluster(t);
  const nc = await connectNats(cluster.url, { name: 'kiln-test', log: quiet, reconnectTimeWaitMs: 250 });
  t.after(() => nc.close());
  const pools = { deb: { architectures: ['amd64'] } };
  assert.deepEqual(await ensureTopology(nc, { pools }), { replicas: 3 });
  const leader = await cluster.metaLeader();
  await leader.kill('SIGKILL');
  // A reconciler starting now: every management call waits out the election.
  assert.deepEqual(await ensureTopology(nc, { pools: { deb: { architectures: ['amd64', 'arm64'] } } }), { replicas: 3 }, 'auto keeps three with a node down');
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  assert.equal((await jsm.consumers.info(STREAMS.builds, buildConsumerName('deb', 'arm64'))).config.num_replicas ?? 0, 0, 'the new consumer follows its stream');
  assert.equal((await jsm.streams.info(STREAMS.builds)).cluster?.replicas?.length, 2, 'two followers, one of them down');
});

test('cluster - kiln reconcile --replicas N sets every stream and bucket to N; a count JetStream cannot have is a usage error', async (t) => {
  const w = await startWorld({ solo: { source: debSource({ name: 'solo' }) } }, () => startNatsCluster());
  t.after(() => w.close());
  const kiln = (...args: string[]) =>
    new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [join(ROOT, 'bin/kiln.js'), 'reconcile', '--once', '--repo', w.repoDir, '--nats', w.nats.url, '--signing-key', w.keyFile, ...args], { cwd: ROOT });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('exit', (code) => resolve({ code, out }));
    });
  const bad = await kiln('--replicas', '6');
  assert.equal(bad.code, 2, bad.out);
  assert.match(bad.out, /--replicas: replicas must be a whole number from 1 to 5, got 6/);

  const ok = await kiln('--replicas', '2');
  assert.equal(ok.code, 0, ok.out);
  const jsm = await w.js.jetstreamManager(false);
  for (const s of [STREAMS.builds, STREAMS.results, STREAMS.logs, `KV_${BUCKETS.lease}`, `KV_${BUCKETS.control}`, `KV_${BUCKETS.agents}`, `OBJ_${BUCKETS.artifacts}`]) {
    assert.equal((await jsm.streams.info(s)).config.num_replicas, 2, `${s} has two replicas`);
  }
});
