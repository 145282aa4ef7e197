// The local artifact cache's writer remembers which fan-out directories exist
// (no mkdir per artifact). Whatever happens to the cache behind its back
// (directories or the whole cache removed, files removed), what it stores must
// be what a writer without that memory stores: every stored digest readable with
// its bytes, no temp files left.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { cachedArtifactPath, storeVerified } from '../../reconciler/pipeline/artifact-cache.ts';
import { seededRandom } from '../helpers/seeded.ts';

async function listing(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const sub of await readdir(dir).catch(() => [])) for (const f of await readdir(join(dir, sub)).catch(() => [])) out.push(`${sub}/${f}`);
  return out.sort();
}

test('artifact cache - stores with the directory memory equal stores without it after random removals', async (t) => {
  const { random, seed } = seededRandom(t);
  const root = await mkdtemp(join(tmpdir(), 'kiln-cache-prop-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  // Few fan-out directories, so that writes meet directories the memory knows and that were removed.
  const contents = Array.from({ length: 40 }, (_, i) => Buffer.from(`artifact ${i}\n`));
  const digests = contents.map((c) => createHash('sha256').update(c).digest('hex'));
  const cached = join(root, 'with-memory');
  const expected = new Map<string, Buffer>();
  for (let step = 0; step < 300; step++) {
    const r = random();
    const i = Math.floor(random() * contents.length);
    if (r < 0.1) {
      await rm(cached, { recursive: true, force: true });
      expected.clear();
    } else if (r < 0.25) {
      const dir = join(cached, digests[i].slice(0, 2));
      await rm(dir, { recursive: true, force: true });
      for (const d of [...expected.keys()]) if (d.startsWith(digests[i].slice(0, 2))) expected.delete(d);
    } else {
      await storeVerified(cached, digests[i], contents[i]);
      expected.set(digests[i], contents[i]);
    }
    // The uncached answer: a fresh directory written with the same surviving artifacts.
    const fresh = join(root, `fresh-${step}`);
    for (const [d, bytes] of expected) await storeVerified(fresh, d, bytes);
    assert.deepEqual(await listing(cached), await listing(fresh), `seed ${seed} step ${step}`);
    for (const [d, bytes] of expected) assert.deepEqual(await readFile(cachedArtifactPath(cached, d)), bytes, `seed ${seed} step ${step}`);
    await rm(fresh, { recursive: true, force: true });
  }
});
