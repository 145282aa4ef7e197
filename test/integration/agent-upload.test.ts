// Artifacts and logs in a real JetStream Object Store: content addressing,
// a repeated put leaves nothing behind, and a recorded log is never overwritten.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { putIfAbsent, sha256File, uploadArtifacts, uploadLog } from '../../agents/upload.ts';
import { createSmallObject, nameChunk, putArtifactObject } from '../../agents/object-put.ts';
import { readArtifactChunks } from '../../reconciler/pipeline/object-read.ts';
import { BUCKETS, LOG_HEADERS, OBJECT_LAYOUT, OBJECTS, SUBJECTS } from '../../schema/nats.ts';
import { BuildLog } from '../../agents/log-stream.ts';
import { quietLog, startHarness } from '../fixtures/agent-jobs.ts';

test('agent upload - artifacts are stored under their sha256 once; logs of a later delivery go beside, not over', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const os = await new Objm(h.nc).open(BUCKETS.artifacts);
  const deb = join(h.workDir, 'x_1.0_amd64.deb');
  await writeFile(deb, 'pretend deb');
  const sha = createHash('sha256').update('pretend deb').digest('hex');

  const [a] = await uploadArtifacts(os, [deb]);
  assert.deepEqual(a, { name: 'x_1.0_amd64.deb', sha256: sha, size: 11 });
  const info = await os.info(OBJECTS.artifact(sha));
  assert.equal(info?.size, 11);
  assert.equal(await putIfAbsent(os, OBJECTS.artifact(sha), deb, sha), 'present');
  assert.equal((await os.info(OBJECTS.artifact(sha)))?.revision, info?.revision, 'not rewritten');

  const key = 'a'.repeat(64);
  const log1 = join(h.workDir, 'log1');
  const log2 = join(h.workDir, 'log2');
  await writeFile(log1, 'first delivery\n');
  await writeFile(log2, 'second delivery\n');
  const d1 = await sha256File(log1);
  const d2 = await sha256File(log2);
  assert.equal(await uploadLog(os, key, 1, 1, { path: log1, sha256: d1.sha256 }), OBJECTS.log(key, 1));
  assert.equal(await uploadLog(os, key, 1, 2, { path: log2, sha256: d2.sha256 }), `${OBJECTS.log(key, 1)}.delivery-2`);
  const first = await os.getBlob(OBJECTS.log(key, 1));
  assert.equal(Buffer.from(first!).toString(), 'first delivery\n', 'the first log is intact');
  assert.equal(await uploadLog(os, key, 1, 1, { path: log1, sha256: d1.sha256 }), OBJECTS.log(key, 1), 'the same log again: already there');
  // A log held in memory (BuildLog.finish gives its bytes when it is small) is stored without reading its file.
  const held = Buffer.from('held in memory\n');
  const heldSha = createHash('sha256').update(held).digest('hex');
  assert.equal(await uploadLog(os, key, 2, 1, { path: join(h.workDir, 'no-such-file'), sha256: heldSha, bytes: held }), OBJECTS.log(key, 2));
  assert.equal(Buffer.from((await os.getBlob(OBJECTS.log(key, 2)))!).toString(), 'held in memory\n');
});

test('agent upload - a small object put with two publishes reads back through @nats-io/obj like one the library put', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const os = await new Objm(h.nc).open(BUCKETS.artifacts);
  const bytes = Buffer.from('a small artifact\n'.repeat(50));
  const sha = createHash('sha256').update(bytes).digest('hex');
  assert.equal(await putArtifactObject(os, bytes, sha, 'one.deb'), true);
  assert.equal(await createSmallObject(os, 'fast/one', bytes, sha, 'one.deb'), 'created');
  await os.putBlob({ name: 'library/one', description: 'one.deb' }, bytes);
  const lib = await os.info('library/one');
  const comparable = (i: typeof lib) => ({ bucket: i!.bucket, size: i!.size, chunks: i!.chunks, description: i!.description, digest: i!.digest, deleted: i!.deleted, options: i!.options, headers: i!.headers, metadata: i!.metadata });
  for (const name of [OBJECTS.artifact(sha), 'fast/one']) {
    assert.deepEqual(comparable(await os.info(name)), comparable(lib), name);
    assert.deepEqual(Buffer.from((await os.getBlob(name))!), bytes, `${name}: the library reads it back (and checks its digest)`);
  }
  assert.equal(await putArtifactObject(os, new Uint8Array(), createHash('sha256').digest('hex')), false, 'an empty object is left to the library');
  assert.equal(await createSmallObject(os, 'fast/big', Buffer.alloc(200 * 1024), sha), false, 'more than one chunk is left to the library');
});

test('agent upload - an artifact put again replaces its own chunk; the reconciler reads it with one get, and a rewritten object as the store says', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const os = await new Objm(h.nc).open(BUCKETS.artifacts);
  const jsm = await jetstreamManager(h.nc);
  const stream = OBJECT_LAYOUT.stream(BUCKETS.artifacts);
  const bytes = Buffer.from('pretend deb, put by two deliveries');
  const sha = createHash('sha256').update(bytes).digest('hex');
  assert.equal(await putArtifactObject(os, bytes, sha, 'x.deb'), true);
  assert.equal(await putArtifactObject(os, bytes, sha, 'x.deb'), true);
  assert.equal((await jsm.streams.info(stream)).state.messages, 2, 'one chunk and one meta: nothing left behind');
  const read = async () => {
    const parts: Uint8Array[] = [];
    for await (const c of (await readArtifactChunks(os, sha, jsm))!) parts.push(c);
    return Buffer.concat(parts).toString();
  };
  assert.equal(await read(), bytes.toString());
  // Whatever else writes the name (the library's put, with a chunk of its own): the reader follows the meta.
  await os.putBlob({ name: OBJECTS.artifact(sha) }, Buffer.from('other bytes'));
  assert.equal(await read(), 'other bytes', 'the digest-named chunk went with the library put; the meta leads to the new one');
  await os.delete(OBJECTS.artifact(sha));
  assert.equal(await readArtifactChunks(os, sha, jsm), null, 'a deleted artifact is missing');
  assert.equal(await readArtifactChunks(os, 'f'.repeat(64), jsm), null, 'an artifact never put is missing');
});

test('agent upload - creating a log object under a taken name keeps what is there; the stored chunk can be named otherwise', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const os = await new Objm(h.nc).open(BUCKETS.artifacts);
  const first = Buffer.from('first delivery\n');
  const second = Buffer.from('second delivery\n');
  const digest = (b: Buffer) => createHash('sha256').update(b).digest('hex');
  const text = async (name: string) => Buffer.from((await os.getBlob(name))!).toString();
  assert.equal(await createSmallObject(os, 'logs/k/1', first, digest(first)), 'created');
  const taken = await createSmallObject(os, 'logs/k/1', second, digest(second));
  assert.ok(taken && taken !== 'created', 'the name is taken');
  assert.equal(await text('logs/k/1'), 'first delivery\n', 'what was there is kept');
  await nameChunk(os, 'logs/k/1.delivery-2', taken);
  assert.equal(await text('logs/k/1.delivery-2'), 'second delivery\n', 'the library reads the named chunk back (and checks its digest)');
  await os.delete('logs/k/1');
  const again = await createSmallObject(os, 'logs/k/1', second, digest(second));
  assert.ok(again && again !== 'created', 'a deleted name counts as taken');
  await nameChunk(os, 'logs/k/1', again);
  assert.equal(await text('logs/k/1'), 'second delivery\n', 'a deleted name is named again');
});

test('agent log - live chunks on the log subject add up to the log kept in memory; the end is marked; size is capped; no file while small', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const key = 'b'.repeat(64);
  const live: Buffer[] = [];
  let end = '';
  const sub = h.nc.subscribe(SUBJECTS.log(key));
  const reading = (async () => {
    for await (const m of sub) {
      assert.equal(m.headers?.get(LOG_HEADERS.attempt), '3');
      // As followLog reads it: the payload, then the end marker the last chunk carries.
      live.push(Buffer.from(m.data));
      end = m.headers?.get(LOG_HEADERS.end) ?? '';
      if (end) break;
    }
  })();
  await h.nc.flush();
  const blog = new BuildLog(h.nc, key, 3, join(h.workDir, 'build.log'), quietLog, 100);
  blog.write('line one\n');
  blog.write(Buffer.from('line two\n'));
  blog.write('x'.repeat(200));
  blog.write('never written\n');
  const summary = await blog.finish('failed');
  await reading;
  const stored = summary.bytes!;
  assert.ok(stored, 'a small log is given whole from memory');
  await assert.rejects(readFile(summary.path), { code: 'ENOENT' }, 'and never written to a file');
  assert.equal(end, 'failed');
  assert.deepEqual(Buffer.concat(live), stored);
  assert.equal(summary.size, stored.length);
  assert.equal(summary.sha256, createHash('sha256').update(stored).digest('hex'));
  assert.match(stored.toString(), /^line one\nline two\nx+\nkiln: log truncated at 100 bytes\n$/);
  assert.ok(!stored.toString().includes('never written'));
});

test('agent log - a log that outgrows memory is in its file whole (what came before too), with its digest; the tail stays in memory', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const blog = new BuildLog(undefined, 'c'.repeat(64), 1, join(h.workDir, 'big.log'), quietLog);
  const lines = Array.from({ length: 3000 }, (_, i) => `line ${i} ${'y'.repeat(i % 97)}\n`);
  for (const l of lines) blog.write(l);
  const summary = await blog.finish('succeeded');
  const whole = Buffer.from(lines.join(''));
  assert.ok(whole.length > 128 * 1024, 'the test log is bigger than what is held in memory');
  assert.equal(summary.bytes, undefined, 'too big to be given from memory');
  assert.deepEqual(await readFile(summary.path), whole);
  assert.equal(summary.size, whole.length);
  assert.equal(summary.sha256, createHash('sha256').update(whole).digest('hex'));
  assert.ok(whole.toString().endsWith(summary.tailText));
});
