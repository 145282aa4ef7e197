// Queue behaviour of agents on a real nats-server, with the NoopRunner (no Docker):
// load sharing, drain through KV, poison jobs, the registry heartbeat.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { until } from '../helpers/until.ts';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Agent } from '../../agents/agent.ts';
import { drainKey } from '../../schema/nats.ts';
import { NoopRunner } from '../../agents/noop-runner.ts';
import type { AgentInfo } from '../../schema/messages.ts';
import { BUCKETS, buildConsumerName, STREAMS } from '../../schema/nats.ts';
import { makeJob, publishJob, quietLog, startHarness, streamMessages, takeResults } from '../fixtures/agent-jobs.ts';

const noJob = { url: '/nonexistent', commit: 'a'.repeat(40) };

/** The agent's registry entry lists `key` as running: the build is under way. */
async function runningOn(nc: import('@nats-io/transport-node').NatsConnection, agent: string, key: string): Promise<AgentInfo> {
  const kv = await new Kvm(nc).open(BUCKETS.agents);
  return until(async () => {
    const info = (await kv.get(agent))?.json<AgentInfo>();
    return info?.running.includes(key) ? info : undefined;
  }, 10_000, `${agent} running ${key}`);
}

/** The builds stream is empty: every job was acked or terminated. */
const queueEmpty = (nc: import('@nats-io/transport-node').NatsConnection, what: string) =>
  until(async () => (await streamMessages(nc, STREAMS.builds)) === 0, 10_000, what);

function noopAgent(h: { nc: import('@nats-io/transport-node').NatsConnection; workDir: string }, id: string, delayMs = 300) {
  return new Agent({ nc: h.nc, pool: 'deb', arch: 'amd64', workDir: h.workDir, log: quietLog, id, heartbeatMs: 500, runner: new NoopRunner({ delayMs }) });
}

test('agent queue - two agents on one pool share four jobs', async (t) => {
  const h = await startHarness();
  const a = noopAgent(h, 'agent-a', 400);
  const b = noopAgent(h, 'agent-b', 400);
  t.after(async () => {
    await Promise.all([a.close(), b.close()]);
    await h.close();
  });
  await Promise.all([a.start(), b.start()]);
  const jobs = [1, 2, 3, 4].map(() => makeJob(noJob));
  for (const j of jobs) await publishJob(h.nc, j);
  const results = await takeResults(h.nc, 4, 20_000);
  assert.deepEqual(results.map((r) => r.key).sort(), jobs.map((j) => j.key).sort());
  assert.ok(results.every((r) => r.outcome === 'succeeded' && r.artifacts.length === 1));
  assert.deepEqual([...new Set(results.map((r) => r.agent))].sort(), ['agent-a', 'agent-b'], 'both agents got work');
  assert.equal(await streamMessages(h.nc, STREAMS.builds), 0);
});

test('agent queue - heartbeat lists the agent and its running build; close removes it', async (t) => {
  const h = await startHarness();
  const a = noopAgent(h, 'agent-hb', 3000);
  t.after(async () => {
    await a.close();
    await h.close();
  });
  await a.start();
  const kv = await new Kvm(h.nc).open(BUCKETS.agents);
  const job = makeJob(noJob);
  await publishJob(h.nc, job);
  const info = await runningOn(h.nc, 'agent-hb', job.key);
  assert.deepEqual(info?.running, [job.key]);
  assert.equal(info?.pool, 'deb');
  assert.equal(info?.draining, false);
  await a.close();
  assert.equal((await takeResults(h.nc, 1, 10_000))[0].key, job.key, 'close() let the running build finish');
  const gone = await kv.get('agent-hb');
  assert.ok(!gone || gone.operation !== 'PUT', 'registry entry removed on close');
});

test('agent queue - a drain request in KV stops pulling; the running build finishes', async (t) => {
  const h = await startHarness();
  const a = noopAgent(h, 'agent-d', 1500);
  t.after(async () => {
    await a.close();
    await h.close();
  });
  await a.start();
  const first = makeJob(noJob);
  await publishJob(h.nc, first);
  await runningOn(h.nc, 'agent-d', first.key);
  const control = await new Kvm(h.nc).open(BUCKETS.control);
  await control.put(drainKey('agent-d'), 'operator');
  const second = makeJob(noJob);
  await publishJob(h.nc, second);
  await a.done();
  const [r] = await takeResults(h.nc, 1, 10_000);
  assert.equal(r.key, first.key);
  assert.equal(await streamMessages(h.nc, STREAMS.builds), 1, 'the job published after the drain is still queued');
  await a.close();
  assert.equal((await control.get(drainKey('agent-d')))?.operation ?? 'DEL', 'DEL', 'drain request cleared');
});

test('agent queue - an invalid job is reported as poison and terminated', async (t) => {
  const h = await startHarness();
  const a = noopAgent(h, 'agent-p', 0);
  t.after(async () => {
    await a.close();
    await h.close();
  });
  await a.start();
  const job = makeJob(noJob);
  await publishJob(h.nc, { ...job, limits: { ...job.limits, memoryMiB: 'lots' } });
  const [r] = await takeResults(h.nc, 1, 10_000);
  assert.equal(r.key, job.key);
  assert.equal(r.outcome, 'failed');
  assert.equal(r.failureClass, 'poison');
  assert.match(r.reason ?? '', /^invalid BuildJob: \/limits\/memoryMiB must be integer$/);
  await queueEmpty(h.nc, 'the poison job terminated, not redelivered');
});

test('agent queue - the last delivery of a job that kept getting lost is reported as poison', async (t) => {
  const h = await startHarness({ ackWaitMs: 1000, maxDeliver: 2 });
  const a = noopAgent(h, 'agent-l', 0);
  t.after(async () => {
    await a.close();
    await h.close();
  });
  const job = makeJob(noJob);
  await publishJob(h.nc, job);
  // A "crashed agent": takes the job and never acks it.
  const c = await jetstream(h.nc).consumers.get(STREAMS.builds, buildConsumerName('deb', 'amd64'));
  const lost = await c.next({ expires: 2000 });
  assert.equal(lost?.info.deliveryCount, 1);
  await a.start();
  const [r] = await takeResults(h.nc, 1, 10_000);
  assert.equal(r.key, job.key);
  assert.equal(r.failureClass, 'poison');
  assert.match(r.reason ?? '', /delivered 2 times without a result/);
  await queueEmpty(h.nc, 'the lost job terminated');
});

test('agent queue - an agent started before its consumer exists waits, then works', async (t) => {
  const { startNats } = await import('../helpers/nats.ts');
  const { connect } = await import('@nats-io/transport-node');
  const { ensureTopology } = await import('../../reconciler/nats/topology.ts');
  const srv = await startNats();
  const nc = await connect({ servers: srv.url });
  const { pino } = await import('pino');
  const warnings: string[] = [];
  const log = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(line) });
  const a = new Agent({ nc, pool: 'deb', arch: 'amd64', workDir: '/tmp', log, id: 'agent-w', bindRetryMs: 200, runner: new NoopRunner() });
  t.after(async () => {
    await a.close();
    await nc.close();
    await srv.dispose();
  });
  const started = a.start();
  await until(() => warnings.some((w) => w.includes('waiting for consumer')), 10_000, 'the agent to find no consumer yet');
  await ensureTopology(nc, { pools: { deb: { architectures: ['amd64'] } } });
  await started;
  const job = makeJob(noJob);
  await publishJob(nc, job);
  assert.equal((await takeResults(nc, 1, 10_000))[0].outcome, 'succeeded');
});

test('agent queue - concurrency N runs N jobs at once, never more', async (t) => {
  const h = await startHarness();
  const a = new Agent({ nc: h.nc, pool: 'deb', arch: 'amd64', workDir: h.workDir, log: quietLog, id: 'agent-c', concurrency: 2, heartbeatMs: 200, runner: new NoopRunner({ delayMs: 1500 }) });
  t.after(async () => {
    await a.close();
    await h.close();
  });
  await a.start();
  for (let i = 0; i < 3; i++) await publishJob(h.nc, makeJob(noJob));
  const kv = await new Kvm(h.nc).open(BUCKETS.agents);
  let most = 0;
  const done = takeResults(h.nc, 3, 15_000);
  let finished = false;
  void done.then(() => (finished = true));
  while (!finished) {
    most = Math.max(most, (await kv.get('agent-c'))?.json<AgentInfo>()?.running.length ?? 0);
    await sleep(50);
  }
  assert.equal((await done).length, 3);
  assert.equal(most, 2);
});

test('agent queue - a nats-server restart mid-build loses nothing: the result arrives after reconnect', async (t) => {
  const h = await startHarness();
  const { connectNats } = await import('../../reconciler/nats/connect.ts');
  const nc = await connectNats(h.srv.url, { name: 'agent-r', log: quietLog, reconnectTimeWaitMs: 100 });
  const a = new Agent({ nc, pool: 'deb', arch: 'amd64', workDir: h.workDir, log: quietLog, id: 'agent-r', runner: new NoopRunner({ delayMs: 1500 }) });
  t.after(async () => {
    await a.close();
    await nc.close();
    await h.close();
  });
  await a.start();
  const job = makeJob(noJob);
  await publishJob(h.nc, job);
  await runningOn(h.nc, 'agent-r', job.key);
  await h.srv.restart();
  const [r] = await takeResults(h.nc, 1, 20_000);
  assert.equal(r.key, job.key);
  assert.equal(r.outcome, 'succeeded');
  await queueEmpty(h.nc, 'the job acked after the restart');
});

test('agent queue - working() holds a build longer than the ack wait: built once, no redelivery', async (t) => {
  const h = await startHarness({ ackWaitMs: 1000 });
  let runs = 0;
  const counting = new NoopRunner({ delayMs: 3500 });
  const runner = { name: 'counting', needsSource: false, run: (...a: Parameters<NoopRunner['run']>) => (runs++, counting.run(...a)) };
  const mk = (id: string) => new Agent({ nc: h.nc, pool: 'deb', arch: 'amd64', workDir: h.workDir, log: quietLog, id, runner });
  const a = mk('agent-w1');
  const b = mk('agent-w2');
  t.after(async () => {
    await Promise.all([a.close(), b.close()]);
    await h.close();
  });
  await Promise.all([a.start(), b.start()]);
  const job = makeJob(noJob);
  await publishJob(h.nc, job);
  const [r] = await takeResults(h.nc, 1, 15_000);
  assert.equal(r.key, job.key);
  await sleep(1500); // a redelivery, had there been one, would have started by now
  assert.equal(runs, 1, 'the job was not redelivered while it was being built');
  assert.equal(await streamMessages(h.nc, STREAMS.builds), 0);
});

test('agent queue - an agent not allowed to look up its consumer stops at once (usage), not "waiting" forever', async (t) => {
  const { startNats } = await import('../helpers/nats.ts');
  const { connect } = await import('@nats-io/transport-node');
  const { ensureTopology } = await import('../../reconciler/nats/topology.ts');
  // The agent's user may not ask for consumer info: an authorization error, which used to be taken as "not created yet".
  const srv = await startNats({
    config: 'authorization { users = [\n  { user: admin, password: a }\n  { user: agent, password: b, permissions: { publish: { deny: ["$JS.API.CONSUMER.INFO.>"] } } }\n] }\n',
  });
  const admin = await connect({ servers: srv.url, user: 'admin', pass: 'a' });
  const nc = await connect({ servers: srv.url, user: 'agent', pass: 'b' });
  const a = new Agent({ nc, pool: 'deb', arch: 'amd64', workDir: '/tmp', log: quietLog, id: 'agent-denied', bindRetryMs: 200, runner: new NoopRunner() });
  t.after(async () => {
    await a.close();
    await nc.close();
    await admin.close();
    await srv.dispose();
  });
  await ensureTopology(admin, { pools: { deb: { architectures: ['amd64'] } } });
  const t0 = Date.now();
  await assert.rejects(a.start(), (e: Error & { code?: string; kind?: string }) => {
    assert.equal(e.code, 'KILN_AGENT_INFRA');
    assert.equal(e.kind, 'usage');
    assert.match(e.message, /cannot bind to consumer KILN_BUILDS\/kiln-build-deb-amd64: Permissions Violation/);
    return true;
  });
  assert.ok(Date.now() - t0 < 10_000, 'failed on the first look, without a retry loop');
});

test('agent queue - a hostile tree entry in the source is a terminal build failure (not infra, not retried)', async (t) => {
  const { execFileSync } = await import('node:child_process');
  const { makeRepo, GIT_ENV } = await import('../helpers/git.ts');
  // sub/.git/config: a tree entry that names .git, which `git add` refuses but a pushed commit can hold.
  const { dir } = await makeRepo({ README: 'x\n' });
  const g = (args: string[], input?: string) => execFileSync('git', args, { cwd: dir, input, env: { ...process.env, ...GIT_ENV } }).toString().trim();
  const blob = g(['hash-object', '-w', '--stdin'], 'hi\n');
  const inner = g(['mktree'], `100644 blob ${blob}\tconfig\n`);
  const sub = g(['mktree'], `040000 tree ${inner}\t.git\n100644 blob ${blob}\tREADME\n`);
  const root = g(['mktree'], `040000 tree ${sub}\tsub\n`);
  const commit = g(['commit-tree', root, '-m', 'hostile']);

  const h = await startHarness();
  const ran: string[] = [];
  const runner = { name: 'must-not-run', needsSource: true, run: async (job: { key: string }) => (ran.push(job.key), { exitCode: 0, oomKilled: false, timedOut: false, artifacts: [] }) };
  const a = new Agent({ nc: h.nc, pool: 'deb', arch: 'amd64', workDir: h.workDir, log: quietLog, id: 'agent-hostile', runner });
  t.after(async () => {
    await a.close();
    await h.close();
  });
  await a.start();
  const job = makeJob({ url: dir, commit });
  await publishJob(h.nc, job);
  const [r] = await takeResults(h.nc, 1, 20_000);
  assert.equal(r.key, job.key);
  assert.equal(r.outcome, 'failed');
  assert.equal(r.failureClass, 'build', `the source is at fault: retrying cannot help (${JSON.stringify(r.error)})`);
  assert.match(r.reason ?? '', /cannot be exported: The filepath "\.git" contains unsafe character sequences/);
  assert.deepEqual([r.error?.code, r.error?.kind], ['KILN_SOURCE_RESOLVE', 'terminal'], 'the kind crossed NATS with the result');
  assert.deepEqual(ran, [], 'the recipe never ran');
});
