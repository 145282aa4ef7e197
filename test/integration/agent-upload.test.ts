// Artifacts and logs in a real JetStream Object Store: content addressing,
// no re-upload of what is there, and a recorded log is never overwritten.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Objm } from '@nats-io/obj';
import { putIfAbsent, sha256File, uploadArtifacts, uploadLog } from '../../agents/upload.ts';
import { BUCKETS, OBJECTS } from '../../schema/nats.ts';
import { startHarness } from '../fixtures/agent-jobs.ts';

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
