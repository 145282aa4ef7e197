import assert from 'node:assert/strict';
import { test } from 'node:test';
import { jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import { connect, nanos } from '@nats-io/transport-node';
import { ensureTopology } from '../../reconciler/nats/topology.ts';
import { BUCKETS, buildConsumerName, RESULTS_CONSUMER, STREAMS, SUBJECTS } from '../../schema/nats.ts';
import { startNats } from '../helpers/nats.ts';

test('topology - ensureTopology creates streams, consumers and buckets, and is idempotent', async (t) => {
  const srv = await startNats();
  t.after(() => srv.dispose());
  const nc = await connect({ servers: srv.url });
  t.after(() => nc.close());
  const opts = { pools: { deb: { architectures: ['amd64', 'arm64'] } }, ackWaitMs: 10_000, maxDeliver: 3, agentTtlMs: 15_000 };

  await ensureTopology(nc, opts);
  const jsm = await jetstreamManager(nc);
  const builds = await jsm.streams.info(STREAMS.builds);
  assert.equal(builds.config.retention, RetentionPolicy.Workqueue);
  assert.equal(builds.config.storage, StorageType.File);
  assert.deepEqual(builds.config.subjects, [SUBJECTS.buildsAll]);
  assert.equal(builds.config.duplicate_window, nanos(24 * 3600_000));
  const results = await jsm.streams.info(STREAMS.results);
  assert.equal(results.config.retention, RetentionPolicy.Workqueue);
  const logs = await jsm.streams.info(STREAMS.logs);
  assert.equal(logs.config.retention, RetentionPolicy.Limits);
  assert.equal(logs.config.max_age, nanos(24 * 3600_000));

  for (const arch of ['amd64', 'arm64']) {
    const c = await jsm.consumers.info(STREAMS.builds, buildConsumerName('deb', arch));
    assert.equal(c.config.filter_subject, SUBJECTS.build('deb', arch));
    assert.equal(c.config.ack_wait, nanos(10_000));
    assert.equal(c.config.max_deliver, 3);
    assert.equal(c.config.ack_policy, 'explicit');
  }
  const rc = await jsm.consumers.info(STREAMS.results, RESULTS_CONSUMER);
  assert.equal(rc.config.filter_subject, SUBJECTS.resultsAll);

  const agents = await jsm.streams.info(`KV_${BUCKETS.agents}`);
  assert.equal(agents.config.max_age, nanos(15_000));
  await jsm.streams.info(`KV_${BUCKETS.control}`);
  await jsm.streams.info(`KV_${BUCKETS.lease}`);
  await jsm.streams.info(`OBJ_${BUCKETS.artifacts}`);

  // Second run, same config: nothing changes (the stream's creation time and config stay).
  const before = await jsm.consumers.info(STREAMS.builds, buildConsumerName('deb', 'amd64'));
  await ensureTopology(nc, opts);
  const again = await jsm.consumers.info(STREAMS.builds, buildConsumerName('deb', 'amd64'));
  assert.deepEqual(again.config, before.config);
  assert.equal(again.created, before.created);
  assert.deepEqual((await jsm.streams.info(STREAMS.builds)).config, builds.config);
  assert.deepEqual((await jsm.streams.info(`KV_${BUCKETS.agents}`)).config, agents.config);
  const streamNames: string[] = [];
  for await (const n of jsm.streams.names()) streamNames.push(n);
  assert.equal(streamNames.length, 7);

  // Changed settings are applied in place; a new arch gets its consumer.
  await ensureTopology(nc, { ...opts, pools: { deb: { architectures: ['amd64', 'arm64', 'riscv64'] } }, ackWaitMs: 20_000, maxDeliver: 4, agentTtlMs: 9_000 });
  const changed = await jsm.consumers.info(STREAMS.builds, buildConsumerName('deb', 'amd64'));
  assert.equal(changed.config.ack_wait, nanos(20_000));
  assert.equal(changed.config.max_deliver, 4);
  assert.equal(changed.created, before.created);
  await jsm.consumers.info(STREAMS.builds, buildConsumerName('deb', 'riscv64'));
  assert.equal((await jsm.streams.info(`KV_${BUCKETS.agents}`)).config.max_age, nanos(9_000));
});

test('topology - a pool name that is not a single subject token is refused before anything is created', async (t) => {
  const srv = await startNats();
  t.after(() => srv.dispose());
  const nc = await connect({ servers: srv.url });
  t.after(() => nc.close());
  await assert.rejects(ensureTopology(nc, { pools: { 'deb.x': { architectures: ['amd64'] } } }), /pool 'deb.x'/);
  const jsm = await jetstreamManager(nc);
  const names: string[] = [];
  for await (const n of jsm.streams.names()) names.push(n);
  assert.deepEqual(names, []);
});

test('topology - a stream made with the wrong retention is an environment error (kind usage: stop, not retry)', async (t) => {
  const srv = await startNats();
  t.after(() => srv.dispose());
  const nc = await connect({ servers: srv.url });
  t.after(() => nc.close());
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: STREAMS.builds, subjects: [SUBJECTS.buildsAll], retention: RetentionPolicy.Limits, storage: StorageType.File });
  await assert.rejects(ensureTopology(nc, { pools: { deb: { architectures: ['amd64'] } } }), (e: Error & { code?: string; kind?: string }) => {
    assert.equal(e.code, 'KILN_USAGE');
    assert.equal(e.kind, 'usage');
    assert.match(e.message, /stream KILN_BUILDS exists with retention=limits/);
    return true;
  });
});
