// The persistent map of the snapshots' big tables (reconciler/collections/layered-map.ts)
// against a Map copied and then edited: after random sequences of versions (sets, deletes,
// re-added keys, versions made from older versions, folds into a new base), every version
// holds the same entries in the same order, and no later edit changes an earlier version.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LayeredMap } from '../../reconciler/collections/layered-map.ts';
import { seededRandom } from '../helpers/seeded.ts';

test('layered map - every version equals a Map copied and edited the same way, after random edits', (t) => {
  const { random, seed } = seededRandom(t);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  for (let run = 0; run < 10; run++) {
    const keys = Array.from({ length: 20 + Math.floor(random() * 300) }, (_, i) => `k${i}`);
    const start = new Map(keys.slice(0, keys.length / 2).map((k, i) => [k, i]));
    const first = random() < 0.5 ? LayeredMap.from(start) : LayeredMap.empty<string, number>();
    const versions: Array<[LayeredMap<string, number>, Map<string, number>]> = [[first, new Map(first)]];
    for (let step = 0; step < 200; step++) {
      const [from, spec] = random() < 0.8 ? versions[versions.length - 1] : pick(versions);
      const next = from.edit();
      const want = new Map(spec);
      for (let k = 0, n = Math.floor(random() * (random() < 0.1 ? 60 : 5)); k < n; k++) {
        const key = pick(keys);
        if (random() < 0.3) assert.equal(next.delete(key), want.delete(key), `seed ${seed}: delete's answer`);
        else {
          const v = step * 100 + k;
          next.set(key, v);
          want.set(key, v);
        }
      }
      versions.push([next.done(), want]);
      for (const [version, expected] of versions.slice(-8)) {
        const at = `seed ${seed} run ${run} step ${step}`;
        assert.deepEqual([...version], [...expected], `${at}: entries in order`);
        assert.equal(version.size, expected.size, `${at}: size`);
        for (const key of keys.slice(0, 40)) {
          assert.equal(version.get(key), expected.get(key), `${at}: get ${key}`);
          assert.equal(version.has(key), expected.has(key), `${at}: has ${key}`);
        }
      }
    }
  }
});

test('layered map - a version is read-only once done', () => {
  const m = LayeredMap.empty<string, number>().edit().set('a', 1).done();
  assert.throws(() => m.set('b', 2), /read-only/);
  assert.deepEqual([...m.edit().set('b', 2).done().keys()], ['a', 'b']);
  assert.deepEqual([...m.keys()], ['a']);
});
