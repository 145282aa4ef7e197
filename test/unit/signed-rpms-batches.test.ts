import assert from 'node:assert/strict';
import { setImmediate as turn } from 'node:timers/promises';
import { test } from 'node:test';
import { BATCH, rpmBatches, signRpmHeaders } from '../../reconciler/pipeline/signed-rpms.ts';
import { generateKey, loadSigner } from '../../reconciler/signing/signer.ts';
import type { BuildResult } from '../../schema/messages.ts';

const MiB = 2 ** 20;

test('rpm signing batches - at most 32 rpms and 64 MiB a batch, a larger rpm alone, order kept', () => {
  const sized = (sizes: number[]) => sizes.map((size, i) => ({ i, size }));
  assert.deepEqual(rpmBatches(sized(Array(70).fill(1))).map((b) => b.length), [32, 32, 6]);
  assert.deepEqual(rpmBatches(sized([40 * MiB, 20 * MiB, 10 * MiB, 1])).map((b) => b.map((a) => a.i)), [[0, 1], [2, 3]]);
  assert.deepEqual(rpmBatches(sized([1, 100 * MiB, 1])).map((b) => b.map((a) => a.i)), [[0], [1], [2]]);
  assert.deepEqual(rpmBatches([]), []);
  assert.deepEqual(BATCH, { rpms: 32, bytes: 64 * MiB });
});

test('rpm signing batches - a result of many large rpms is never all in memory: two batches at a time, copies in order', async () => {
  const key = await generateKey({ name: 'Kiln test', email: 'test@kiln.invalid' });
  const real = await loadSigner(key.privateKeyArmored);
  const artifacts = Array.from({ length: 40 }, (_, i) => ({ name: `p${i}-1-1.x86_64.rpm`, sha256: String(i).padStart(64, '0'), size: 20 * MiB }));
  const result = { outcome: 'succeeded', artifacts, inputs: { recipe: { format: 'rpm' } } } as unknown as BuildResult;
  let held = 0;
  let most = 0;
  const signer = {
    ...real,
    fingerprint: real.fingerprint,
    async signRpms(_target: unknown, rpms: { name: string; size: number }[]) {
      await turn();
      held -= rpms.reduce((n, r) => n + r.size, 0);
      return rpms.map((r) => ({ sha256: `signed-${r.name}`, size: r.size, signature: 'sig' }));
    },
  } as typeof real;
  const read = async (a: { size: number }) => {
    held += a.size;
    most = Math.max(most, held);
    await turn();
    return Buffer.alloc(0);
  };
  const signed = await signRpmHeaders(result, read, signer, '/nonexistent');
  assert.deepEqual(signed.map((s) => s.sha256), artifacts.map((a) => `signed-${a.name}`));
  assert.ok(most <= 2 * BATCH.bytes, `at most two batches held: ${most / MiB} MiB`);
  assert.equal(held, 0);
});
