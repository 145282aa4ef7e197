// Artifacts and logs in a real JetStream Object Store: content addressing,
// no re-upload of what is there, and a recorded log is never overwritten.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Objm } from '@nats-io/obj';
import { putIfAbsent, sha256File, uploadArtifacts, uploadLog } from '../../agents/upload.ts';
import { putNewSmallObject } from '../../agents/object-put.ts';
import { BUCKETS, LOG_HEADERS, OBJECTS, SUBJECTS } from '../../schema/nats.ts';
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
  assert.equal(await uploadLog(os, key, 1, 1, log1, d1.sha256), OBJECTS.log(key, 1));
  assert.equal(await uploadLog(os, key, 1, 2, log2, d2.sha256), `${OBJECTS.log(key, 1)}.delivery-2`);
  const first = await os.getBlob(OBJECTS.log(key, 1));
  assert.equal(Buffer.from(first!).toString(), 'first delivery\n', 'the first log is intact');
});

test('agent upload - a small object put with two publishes reads back through @nats-io/obj like one the library put', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const os = await new Objm(h.nc).open(BUCKETS.artifacts);
  const bytes = Buffer.from('a small artifact\n'.repeat(50));
  const sha = createHash('sha256').update(bytes).digest('hex');
  assert.equal(await putNewSmallObject(os, 'fast/one', bytes, sha, 'one.deb'), true);
  await os.putBlob({ name: 'library/one', description: 'one.deb' }, bytes);
  const fast = await os.info('fast/one');
  const lib = await os.info('library/one');
  const comparable = (i: typeof fast) => ({ bucket: i!.bucket, size: i!.size, chunks: i!.chunks, description: i!.description, digest: i!.digest, deleted: i!.deleted, options: i!.options, headers: i!.headers, metadata: i!.metadata });
  assert.deepEqual(comparable(fast), comparable(lib));
  assert.deepEqual(Buffer.from((await os.getBlob('fast/one'))!), bytes, 'the library reads it back (and checks its digest)');
  assert.equal(await putNewSmallObject(os, 'fast/empty', new Uint8Array(), createHash('sha256').digest('hex')), false, 'an empty object is left to the library');
  assert.equal(await putNewSmallObject(os, 'fast/big', Buffer.alloc(200 * 1024), sha), false, 'more than one chunk is left to the library');
});

test('agent log - live chunks on the log subject add up to the stored file; the end is marked; size is capped', async (t) => {
  const h = await startHarness();
  t.after(() => h.close());
  const key = 'b'.repeat(64);
  const live: Buffer[] = [];
  let end = '';
  const sub = h.nc.subscribe(SUBJECTS.log(key));
  const reading = (async () => {
    for await (const m of sub) {
      assert.equal(m.headers?.get(LOG_HEADERS.attempt), '3');
      end = m.headers?.get(LOG_HEADERS.end) ?? '';
      if (end) break;
      live.push(Buffer.from(m.data));
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
  const stored = await readFile(summary.path);
  assert.equal(end, 'failed');
  assert.deepEqual(Buffer.concat(live), stored);
  assert.equal(summary.size, stored.length);
  assert.equal(summary.sha256, createHash('sha256').update(stored).digest('hex'));
  assert.match(stored.toString(), /^line one\nline two\nx+\nkiln: log truncated at 100 bytes\n$/);
  assert.ok(!stored.toString().includes('never written'));
});
