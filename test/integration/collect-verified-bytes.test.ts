// The collect step's one-read verification must judge every result exactly as
// verifyArtifacts does (the streaming check it replaces on the pass's path), on a
// real object store: random results whose artifacts are intact, tampered, of a
// wrong claimed size, missing, missing but still in the local cache, more than one
// chunk; and the bytes it keeps must be exactly the verified ones.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { pino } from 'pino';
import { connectNats } from '../../reconciler/nats/connect.ts';
import { ensureTopology } from '../../reconciler/nats/topology.ts';
import { storeVerified, cachedArtifactPath } from '../../reconciler/pipeline/artifact-cache.ts';
import { verifyArtifacts } from '../../reconciler/pipeline/collect.ts';
import { verifyKeepingBytes } from '../../reconciler/pipeline/verified-bytes.ts';
import type { BuildResult } from '../../schema/messages.ts';
import { BUCKETS, OBJECTS } from '../../schema/nats.ts';
import { startNats } from '../helpers/nats.ts';
import { seededRandom } from '../helpers/seeded.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('collect verified bytes - same verdicts as verifyArtifacts on random results; kept bytes are the verified ones', async (t) => {
  const { random, seed } = seededRandom(t);
  const server = await startNats();
  const nc = await connectNats(server.url, { name: 'test', log: pino({ level: 'silent' }) });
  const dir = await mkdtemp(join(tmpdir(), 'kiln-verified-bytes-'));
  t.after(async () => {
    await nc.close();
    await server.dispose();
    await rm(dir, { recursive: true, force: true });
  });
  await ensureTopology(nc, { pools: { default: { architectures: ['amd64'] } } });
  const os = await new Objm(nc).open(BUCKETS.artifacts);
  const jsm = await jetstreamManager(nc);
  const fastCache = join(dir, 'fast');
  const slowCache = join(dir, 'slow');

  let kept = 0;
  for (let i = 0; i < 60; i++) {
    const artifacts: BuildResult['artifacts'] = [];
    const stored: Uint8Array[] = [];
    for (let k = 0, n = 1 + Math.floor(random() * 3); k < n; k++) {
      const size = random() < 0.1 ? 300 * 1024 : Math.floor(random() * 2000);
      const bytes = Buffer.alloc(size, `${seed}.${i}.${k}`);
      const digest = sha(bytes);
      const r = random();
      let claimed = { name: `a${k}.deb`, sha256: digest, size };
      if (r < 0.15) claimed = { ...claimed, size: size + (random() < 0.5 ? 1 : -1) };
      else if (r < 0.25) claimed = { ...claimed, sha256: sha(Buffer.from(`other ${i}.${k}`)) };
      if (r >= 0.35 || r < 0.25) await os.putBlob({ name: OBJECTS.artifact(claimed.sha256) }, r < 0.25 && r >= 0.15 ? Buffer.from(`tampered ${i}.${k}`) : bytes);
      // Missing from the store but still cached locally (by both, so both see the same cache).
      if (r >= 0.3 && r < 0.35) {
        await storeVerified(fastCache, digest, bytes);
        await storeVerified(slowCache, digest, bytes);
      }
      artifacts.push(claimed);
      stored.push(bytes);
    }
    const result: BuildResult = {
      v: 1, key: sha(Buffer.from(`key ${seed} ${i}`)), attempt: 1, pool: 'default', agent: 'fake', outcome: 'succeeded', artifacts,
      inputs: { package: 'p', version: '1.0', source: { url: 'file:///src', commit: 'c'.repeat(40) }, recipe: { format: 'deb', rebuild: 0 }, image: 'i', arch: 'amd64', target: 'bookworm' },
      startedAt: new Date(0).toISOString(), finishedAt: new Date(0).toISOString(),
    };
    const fast = await verifyKeepingBytes(os, result, { cacheDir: fastCache, jsm });
    await fast.stored;
    fast.release();
    const slow = await verifyArtifacts(os, result, { cacheDir: slowCache, jsm });
    assert.deepEqual(fast.result, slow, `seed ${seed} result ${i}`);
    kept += fast.bytes.size;
    for (const [digest, bytes] of fast.bytes) {
      assert.equal(sha(bytes), digest, `seed ${seed} result ${i}: kept bytes hash to their key`);
      assert.deepEqual(await readFile(cachedArtifactPath(fastCache, digest)), bytes, `seed ${seed} result ${i}: and are cached`);
    }
  }
  assert.ok(kept > 0, `seed ${seed}: the in-memory path was taken`);
});
