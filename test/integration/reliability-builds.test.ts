// kiln-test: long (scripts/test starts it first, so the run does not end waiting on it)
// Build semantics end to end: the reconciler (in process), real agents running
// the real DockerRunner (in process, or `kiln agent` child processes that a test
// SIGKILLs), a real nats-server and real Debian source repos.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Kvm } from '@nats-io/kv';
import type { AgentInfo } from '../../schema/messages.ts';
import { BUCKETS, buildConsumerName, STREAMS } from '../../schema/nats.ts';
import { containersWithLabel, docker, dockerUnavailable } from '../helpers/docker.ts';
import { agentProcess, debSource, startWorld, until, type World } from './reliability-harness.ts';

const skip = await dockerUnavailable();

describe('reliability builds (real Docker)', { skip }, () => {
  let w: World;
  before(async () => {
    w = await startWorld({
      broken: { source: debSource({ name: 'broken', c: 'int main(void) { this is not C; }\n' }) },
      slowpoke: { source: debSource({ name: 'slowpoke', buildShell: 'sleep 120' }), limits: { timeoutSeconds: 4 } },
      glutton: { source: debSource({ name: 'glutton', buildShell: 'head -c 600M /dev/zero | tail > /dev/null' }), limits: { memoryMiB: 160 } },
    });
  });
  after(() => w?.close());

  test('reliability - compile failure, time limit and memory limit: failed records with reason and log tail, never retried', async () => {
    await w.agent('docker-1');
    const rec = await w.reconciler();
    const records = await w.converge(rec, (r) => r.size === 3 && [...r.values()].every((x) => x.state === 'failed'), 180_000);
    const by = (p: string) => [...records.values()].find((r) => r.inputs.package === p)!;

    const broken = by('broken');
    assert.equal(broken.failure?.class, 'build');
    assert.equal(broken.failure?.retryable, false);
    assert.match(broken.failure?.logTail ?? '', /error/i, 'the compiler error is in the log tail');
    assert.ok(broken.log?.sha256, 'the full log is referenced');

    const slow = by('slowpoke');
    assert.equal(slow.failure?.class, 'limit');
    assert.equal(slow.attempts[0].timedOut, true);
    assert.match(slow.failure?.reason ?? '', /time/i);

    const glutton = by('glutton');
    assert.equal(glutton.failure?.class, 'limit');
    assert.equal(glutton.attempts[0].oomKilled, true);
    assert.match(glutton.failure?.reason ?? '', /memory|oom/i);

    for (const r of records.values()) assert.equal(r.attempts.length, 1, `${r.inputs.package}: one attempt`);
    const again = await rec.runPass();
    assert.equal(again.dispatched, 0, 'nothing is retried: no loop');
    assert.equal((await w.records()).get(broken.key)?.attempts.length, 1);
  });
});

describe('reliability agent crash (real Docker)', { skip }, () => {
  let w: World;
  before(async () => {
    w = await startWorld({ sleeper: { source: debSource({ name: 'sleeper', buildShell: 'sleep 6' }) } });
  });
  after(async () => {
    for (const c of await containersWithLabel('kiln.agent', 'doomed')) await docker.getContainer(c.Id).remove({ force: true }).catch(() => undefined);
    await w?.close();
  });

  test('reliability - an agent SIGKILLed mid-build: the job goes to another agent and completes; one record, one attempt', async (t) => {
    const doomed = agentProcess(w, 'doomed');
    t.after(() => {
      if (doomed.exitCode === null && doomed.signalCode === null) doomed.kill('SIGKILL');
    });
    const rec = await w.reconciler();
    assert.equal((await rec.runPass()).dispatched, 1);
    const [queued] = [...(await w.records()).values()];
    const agents = await new Kvm(w.nc).open(BUCKETS.agents);
    await until(async () => (await agents.get('doomed'))?.json<AgentInfo>().running.includes(queued.key), 60_000, 'the doomed agent building');
    await until(async () => (await containersWithLabel('kiln.agent', 'doomed')).some((c) => c.State === 'running'), 30_000, 'its container running');
    doomed.kill('SIGKILL');
    await new Promise((r) => doomed.once('exit', r));
    // The host is gone with its agent: so is its container.
    for (const c of await containersWithLabel('kiln.agent', 'doomed')) await docker.getContainer(c.Id).remove({ force: true });

    await w.agent('survivor');
    const records = await w.converge(rec, (r) => r.get(queued.key)?.state === 'succeeded', 120_000);
    const r = records.get(queued.key)!;
    assert.equal(records.size, 1, 'exactly one record');
    assert.equal(r.attempts.length, 1, 'the redelivery is the same attempt, not a new one');
    assert.equal(r.attempts[0].agent, 'survivor');
    assert.ok(r.artifacts?.some((a) => a.name.endsWith('.deb')), 'a .deb was recorded');
    const jsm = await w.js.jetstreamManager();
    assert.equal((await jsm.consumers.info(STREAMS.builds, buildConsumerName('deb', 'amd64'))).num_ack_pending, 0);
  });
});

describe('reliability poison job (real Docker agent)', { skip }, () => {
  let w: World;
  before(async () => {
    w = await startWorld({ cursed: { source: debSource({ name: 'cursed' }) } });
  });
  after(() => w?.close());

  test('reliability - a job that kills every agent stops at its delivery limit with a poison record; nothing loops', async () => {
    const rec = await w.reconciler();
    await rec.runPass();
    const [queued] = [...(await w.records()).values()];
    // Agents that die on this job: pull it and vanish without acking (delivery limit is 3).
    const consumer = await w.js.consumers.get(STREAMS.builds, buildConsumerName('deb', 'amd64'));
    for (let delivery = 1; delivery <= 2; delivery++) {
      const m = await until(async () => (await consumer.next({ expires: 2000 })) ?? undefined, 15_000, `delivery ${delivery}`);
      assert.equal(m.info.deliveryCount, delivery);
    }
    // The final delivery reaches a healthy agent, which reports the job as poison instead of running it.
    await w.agent('healthy');
    const records = await w.converge(rec, (r) => r.get(queued.key)?.state === 'failed', 60_000);
    const r = records.get(queued.key)!;
    assert.equal(r.failure?.class, 'poison');
    assert.equal(r.failure?.retryable, false);
    assert.match(r.failure?.reason ?? '', /deliver/i);
    assert.equal(r.attempts.length, 1);
    assert.equal((await rec.runPass()).dispatched, 0, 'not dispatched again');
  });
});
