// dispatch → a hand-written agent stand-in on the real work queue → results →
// collect, verify and fetch artifacts, against a real nats-server.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { connectNats } from '../../reconciler/nats/connect.ts';
import { ensureTopology } from '../../reconciler/nats/topology.ts';
import { dispatchBuilds } from '../../reconciler/pipeline/dispatch.ts';
import { ackAll, fetchArtifact, fetchResults, verifyArtifacts, verifyResults } from '../../reconciler/pipeline/collect.ts';
import type { BuildAction } from '../../reconciler/model.ts';
import type { BuildJob, BuildResult } from '../../schema/messages.ts';
import { BUCKETS, buildConsumerName, OBJECTS, RESULTS_CONSUMER, STREAMS, SUBJECTS } from '../../schema/nats.ts';
import { startNats, type NatsServer } from '../helpers/nats.ts';

const log = pino({ level: 'silent' });
let server: NatsServer;
let nc: NatsConnection;
let js: JetStreamClient;
let os: ObjectStore;

before(async () => {
  server = await startNats();
  nc = await connectNats(server.url, { name: 'test', log });
  await ensureTopology(nc, { pools: { default: { architectures: ['amd64', 'arm64'] } } });
  js = jetstream(nc);
  os = await new Objm(nc).open(BUCKETS.artifacts);
});
after(async () => {
  await nc?.close();
  await server?.dispose();
});

const sha = (s: string | Uint8Array) => createHash('sha256').update(s).digest('hex');

function action(i: number, arch: 'amd64' | 'arm64' = 'amd64', attempt = 1): BuildAction {
  const inputs = {
    package: `pkg${i}`,
    version: '1.0',
    source: { url: 'file:///src', commit: 'c'.repeat(40) },
    recipe: { format: 'deb', rebuild: 0 },
    image: 'kiln/bookworm-debhelper',
    arch,
    target: 'bookworm',
  };
  return {
    kind: 'build',
    reason: 'NeverBuilt',
    message: 'new',
    key: sha(`${i}.${arch}`),
    package: inputs.package,
    version: '1.0',
    arch,
    pool: 'default',
    attempt,
    inputs,
    limits: { memoryMiB: 256, cpus: 1, pids: 128, timeoutSeconds: 60 },
  };
}

/** What an agent does, minus the build: pull, store an artifact, publish the result, ack. */
async function fakeAgent(arch: string, n: number, opts: { tamper?: boolean } = {}): Promise<BuildJob[]> {
  const consumer = await js.consumers.get(STREAMS.builds, buildConsumerName('default', arch));
  const jobs: BuildJob[] = [];
  const iter = await consumer.fetch({ max_messages: n, expires: 2000 });
  for await (const m of iter) {
    const job = JSON.parse(new TextDecoder().decode(m.data)) as BuildJob;
    jobs.push(job);
    const bytes = new TextEncoder().encode(`deb of ${job.inputs.package}`);
    const digest = sha(bytes);
    await os.putBlob({ name: OBJECTS.artifact(digest) }, opts.tamper ? new TextEncoder().encode('evil bytes') : bytes);
    const result: BuildResult = {
      v: 1,
      key: job.key,
      attempt: job.attempt,
      inputs: job.inputs,
      pool: job.pool,
      desiredCommit: job.desiredCommit,
      agent: 'fake',
      outcome: 'succeeded',
      artifacts: [{ name: `${job.inputs.package}_1.0_${arch}.deb`, sha256: digest, size: bytes.length }],
      startedAt: new Date().toISOString(),
      finishedAt: new Date().toISOString(),
    };
    await js.publish(SUBJECTS.result(job.key), JSON.stringify(result), { msgID: `${job.key}.${job.attempt}.result` });
    await m.ackAck();
  }
  return jobs;
}

test('pipeline dispatch - jobs land on their pool/arch queue, a second dispatch of the same attempt is deduplicated', async () => {
  const actions = [...Array.from({ length: 5 }, (_, i) => action(i)), action(100, 'arm64')];
  const first = await dispatchBuilds(js, actions, { desiredCommit: 'd'.repeat(40), now: new Date(), maxInFlight: 2, log });
  assert.deepEqual(first, { published: 6, duplicates: 0 });
  const again = await dispatchBuilds(js, actions, { desiredCommit: 'd'.repeat(40), now: new Date(), log });
  assert.deepEqual(again, { published: 0, duplicates: 6 }, 'a peer reconciler dispatching the same attempts');
  const retry = await dispatchBuilds(js, [action(0, 'amd64', 2)], { desiredCommit: 'd'.repeat(40), now: new Date(), log });
  assert.deepEqual(retry, { published: 1, duplicates: 0 }, 'attempt 2 is a new message');

  const jsm = await js.jetstreamManager();
  assert.equal((await jsm.consumers.info(STREAMS.builds, buildConsumerName('default', 'amd64'))).num_pending, 6);
  assert.equal((await jsm.consumers.info(STREAMS.builds, buildConsumerName('default', 'arm64'))).num_pending, 1);

  const jobs = await fakeAgent('amd64', 6);
  assert.equal(jobs.length, 6);
  assert.deepEqual(jobs.map((j) => `${j.inputs.package}.${j.attempt}`).sort(), ['pkg0.1', 'pkg0.2', 'pkg1.1', 'pkg2.1', 'pkg3.1', 'pkg4.1']);
  assert.ok(jobs.every((j) => j.desiredCommit === 'd'.repeat(40) && j.limits.memoryMiB === 256));
  await fakeAgent('arm64', 1);

  // collect: all 7 results, verified; unacked ones come back, acked ones do not.
  const got = await fetchResults(js, { max: 100, expiresMs: 1000, log });
  assert.equal(got.length, 7);
  for (const p of got) assert.equal((await verifyArtifacts(os, p.result)).outcome, 'succeeded');
  for (const p of got.slice(0, 5)) await p.ack();
  for (const p of got.slice(5)) p.nak();
  const redelivered = await fetchResults(js, { max: 100, expiresMs: 1000, log });
  assert.equal(redelivered.length, 2, 'naked results are delivered again');
  assert.ok(redelivered.every((p) => p.deliveries === 2));
  for (const p of redelivered) await p.ack();
  const t0 = Date.now();
  assert.deepEqual(await fetchResults(js, { max: 100, expiresMs: 5000, log }), []);
  assert.ok(Date.now() - t0 < 1000, 'an empty consumer answers at once, without waiting for expiry');

  // fetchArtifact: downloads once into the content-addressed cache.
  const cache = await mkdtemp(join(tmpdir(), 'kiln-cache-'));
  try {
    const a = got[0].result.artifacts[0];
    const path = await fetchArtifact(os, a.sha256, cache);
    assert.equal(sha(await readFile(path)), a.sha256);
    assert.equal(await fetchArtifact(os, a.sha256, cache), path, 'second call served from the cache');
    await assert.rejects(fetchArtifact(os, 'f'.repeat(64), cache), { code: 'KILN_ARTIFACT_MISSING' });

    // verifyResults: many results, checked concurrently while filling the cache; order kept.
    const all = await verifyResults(os, got.map((x) => x.result), { cacheDir: cache, concurrency: 3, jsm: await js.jetstreamManager() });
    assert.deepEqual(all.map((r) => r.key), got.map((x) => x.result.key));
    assert.ok(all.every((r) => r.outcome === 'succeeded'));
    for (const r of all) assert.equal(sha(await readFile(join(cache, r.artifacts[0].sha256.slice(0, 2), r.artifacts[0].sha256))), r.artifacts[0].sha256);
    const wrongSize = await verifyArtifacts(os, { ...got[1].result, artifacts: [{ ...got[1].result.artifacts[0], size: 1 }] }, { cacheDir: cache });
    assert.match(wrongSize.reason ?? '', /stored size \d+ bytes, not the claimed 1/);
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});

test('pipeline collect - an artifact whose stored bytes do not match its digest becomes an integrity failure', async () => {
  await dispatchBuilds(js, [action(200)], { desiredCommit: 'd'.repeat(40), now: new Date(), log });
  await fakeAgent('amd64', 1, { tamper: true });
  const [p] = await fetchResults(js, { max: 10, expiresMs: 1000, log });
  assert.equal(p.result.outcome, 'succeeded', 'the agent claims success');
  const jsm = await js.jetstreamManager();
  for (const fast of [undefined, jsm]) {
    const v = await verifyArtifacts(os, p.result, { jsm: fast });
    assert.equal(v.failureClass, 'integrity', `${fast ? 'with an explicit manager' : "with the store's own manager"}: detected`);
  }
  const verified = await verifyArtifacts(os, p.result);
  assert.equal(verified.outcome, 'failed');
  assert.equal(verified.failureClass, 'integrity');
  assert.match(verified.reason ?? '', /stored bytes hash to sha256 [0-9a-f]{64}, not the claimed/);
  assert.deepEqual(verified.artifacts, []);

  const cache = await mkdtemp(join(tmpdir(), 'kiln-cache-'));
  try {
    await assert.rejects(fetchArtifact(os, p.result.artifacts[0].sha256, cache), { code: 'KILN_DIGEST_MISMATCH' });
    const left = (await readdir(cache, { recursive: true })).filter((f) => f.includes('tmp') || /[0-9a-f]{64}$/.test(f));
    assert.deepEqual(left, [], 'no file (or temp file) left for a bad digest');
  } finally {
    await rm(cache, { recursive: true, force: true });
  }

  const cache2 = await mkdtemp(join(tmpdir(), 'kiln-cache-'));
  try {
    const viaCache = await verifyArtifacts(os, p.result, { cacheDir: cache2, jsm });
    assert.equal(viaCache.failureClass, 'integrity', 'checking while caching finds it too');
    assert.match(viaCache.reason ?? '', /stored bytes hash to sha256 [0-9a-f]{64}, not the claimed/);
    assert.deepEqual((await readdir(cache2, { recursive: true })).filter((f) => /[0-9a-f]{64}/.test(f)), [], 'nothing cached');
  } finally {
    await rm(cache2, { recursive: true, force: true });
  }

  const missing = await verifyArtifacts(os, { ...p.result, artifacts: [{ name: 'x.deb', sha256: 'f'.repeat(64), size: 1 }] }, { jsm });
  assert.equal(missing.failureClass, 'infra', 'missing is lost (built again later), not tampered with');
  assert.match(missing.reason ?? '', /^artifacts lost: .*missing from the object store/);
  await p.ack();
});

test('pipeline collect - a malformed result is terminated, not redelivered', async () => {
  await js.publish(SUBJECTS.result('a'.repeat(64)), JSON.stringify({ v: 1, nonsense: true }));
  const got = await fetchResults(js, { max: 10, expiresMs: 1000, log });
  assert.deepEqual(got, []);
  const jsm = await js.jetstreamManager();
  const info = await jsm.consumers.info(STREAMS.results, 'kiln-reconciler-results');
  assert.equal(info.num_pending + info.num_ack_pending, 0, 'nothing left to deliver');
});

test('pipeline collect - a multi-chunk artifact is verified and cached whole, with or without the direct read', async () => {
  const big = new Uint8Array(300 * 1024).map((_, i) => (i * 7) % 251);
  const digest = sha(big);
  await os.putBlob({ name: OBJECTS.artifact(digest) }, big);
  const jsm = await js.jetstreamManager();
  const result: BuildResult = {
    v: 1, key: 'c'.repeat(64), attempt: 1, inputs: action(300).inputs, pool: 'default', agent: 'fake', outcome: 'succeeded',
    artifacts: [{ name: 'big.deb', sha256: digest, size: big.length }], startedAt: new Date().toISOString(), finishedAt: new Date().toISOString(),
  };
  const cache = await mkdtemp(join(tmpdir(), 'kiln-cache-'));
  try {
    assert.equal((await verifyArtifacts(os, result, { jsm })).outcome, 'succeeded');
    assert.equal((await verifyArtifacts(os, result, { jsm, cacheDir: cache })).outcome, 'succeeded');
    assert.equal(sha(await readFile(await fetchArtifact(os, digest, cache))), digest);
    const lie = await verifyArtifacts(os, { ...result, artifacts: [{ ...result.artifacts[0], size: 5 }] }, { jsm });
    assert.match(lie.reason ?? '', /stored size 307200 bytes, not the claimed 5/);
  } finally {
    await rm(cache, { recursive: true, force: true });
  }
});

test('pipeline dispatch - a publish that fails part-way still reports each job already queued', async () => {
  const actions = [action(300, 'arm64'), action(301, 'arm64'), action(302, 'arm64'), action(303, 'arm64')];
  const refused = actions[2].key;
  // The real client, refusing the third job's publish (the broker's answer is the fault seam).
  const faulty = new Proxy(js, {
    get(target, prop, receiver) {
      if (prop !== 'publish') return Reflect.get(target, prop, receiver);
      return (subject: string, data: Uint8Array, opts: { msgID?: string }) =>
        opts.msgID?.startsWith(refused) ? Promise.reject(new Error('injected: no PubAck')) : target.publish(subject, data, opts);
    },
  });
  const jsm = await js.jetstreamManager();
  const before = (await jsm.consumers.info(STREAMS.builds, buildConsumerName('default', 'arm64'))).num_pending;
  const queued: string[] = [];
  await assert.rejects(
    dispatchBuilds(faulty, actions, { desiredCommit: 'd'.repeat(40), now: new Date(), maxInFlight: 1, log, onQueued: (a) => queued.push(a.key) }),
    /injected: no PubAck/,
  );
  assert.deepEqual(queued, [actions[0].key, actions[1].key]);
  assert.equal((await jsm.consumers.info(STREAMS.builds, buildConsumerName('default', 'arm64'))).num_pending, before + 2, 'exactly those two are on the queue');
});

test('pipeline collect - results acked with one confirmation (ackAll) are all gone from the consumer once it returns', async () => {
  const actions = Array.from({ length: 40 }, (_, i) => action(300 + i, 'arm64'));
  await dispatchBuilds(js, actions, { desiredCommit: 'd'.repeat(40), now: new Date(), log });
  await fakeAgent('arm64', actions.length);
  const got = await fetchResults(js, { max: 100, expiresMs: 1000, log });
  assert.ok(got.length >= actions.length, `fetched ${got.length}`);
  await ackAll(got);
  const info = await (await js.jetstreamManager()).consumers.info(STREAMS.results, RESULTS_CONSUMER);
  assert.deepEqual({ pending: info.num_pending, ackPending: info.num_ack_pending, redelivered: info.num_redelivered }, { pending: 0, ackPending: 0, redelivered: 0 });
  assert.deepEqual(await fetchResults(js, { max: 100, expiresMs: 1000, log }), [], 'none comes back');
  await ackAll([]);
});
