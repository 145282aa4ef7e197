// The change lists the status reader, the writer and the pass record for ObservedState.builds
// (reconciler/status/build-changes.ts) against comparing every record: after random sequences
// of maps made from one another (sets, deletes, reverts to earlier record objects, branches from
// a common ancestor, maps made without a record), every key whose record differs is named.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildKeysChangedBetween, recordBuildChanges, withBuilds } from '../../reconciler/status/build-changes.ts';
import { applyChanges, emptySnapshot, parseChanges } from '../../reconciler/status/snapshot.ts';
import { buildRecordFile } from '../../reconciler/status/records.ts';
import type { BuildRecord } from '../../schema/status.ts';
import { seededRandom } from '../helpers/seeded.ts';

type Builds = Map<string, BuildRecord>;

function record(key: string, n: number): BuildRecord {
  return {
    key,
    inputs: { package: 'p', version: `1.${n}`, source: { url: 'u', commit: 'c' }, recipe: { format: 'deb', rebuild: 0 }, image: 'i', arch: 'amd64', target: 't' },
    pool: 'deb',
    state: 'queued',
    attempts: [],
    desiredCommit: 'd',
  };
}

const differing = (a: Builds, b: Builds) => [...new Set([...a.keys(), ...b.keys()])].filter((k) => a.get(k) !== b.get(k)).sort();

test('status build changes - the recorded keys name every record that differs, after random sequences of maps', (t) => {
  const { random, seed } = seededRandom(t);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const keys = Array.from({ length: 30 }, (_, i) => i.toString(16).padStart(64, '0'));
  let answered = 0;
  for (let run = 0; run < 20; run++) {
    const maps: Builds[] = [new Map(keys.slice(0, 10).map((k, i) => [k, record(k, i)]))];
    const history = new Map<string, BuildRecord[]>();
    for (let step = 0; step < 40; step++) {
      const from = random() < 0.7 ? maps[maps.length - 1] : pick(maps.slice(-6)); // mostly a chain, sometimes a branch
      const updates = new Map<string, BuildRecord>();
      const deleted: string[] = [];
      for (let k = 0, n = Math.floor(random() * 4); k < n; k++) {
        const key = pick(keys);
        const earlier = history.get(key) ?? [];
        const op = random();
        if (op < 0.2 && from.has(key)) deleted.push(key);
        else updates.set(key, op < 0.4 && earlier.length ? pick(earlier) : record(key, step * 10 + k)); // revert, or a new record
      }
      let next: Builds;
      if (random() < 0.1) next = new Map([...from, ...updates]); // made without a record
      else if (deleted.length) {
        next = new Map(from);
        for (const k of deleted) next.delete(k);
        for (const [k, r] of updates) next.set(k, r);
        recordBuildChanges(next, from, [...deleted, ...updates.keys()]);
      } else next = withBuilds(from, updates);
      for (const [k, r] of updates) history.set(k, [...(history.get(k) ?? []), r]);
      maps.push(next);
      for (const before of maps.slice(-5)) {
        const named = buildKeysChangedBetween(before, next);
        if (!named) continue;
        answered++;
        const missing = differing(before, next).filter((k) => !named.has(k));
        assert.deepEqual(missing, [], `seed ${seed} run ${run} step ${step}: keys that differ but were not named`);
      }
    }
  }
  t.diagnostic(`${answered} lookups answered from the change lists`);
  assert.ok(answered > 0);
});

test('status build changes - applyChanges records the build keys it set or deleted; other kinds leave the map and no record', () => {
  const k = (n: number) => n.toString(16).padStart(64, '0');
  const s1 = applyChanges(emptySnapshot(), parseChanges(new Map([buildRecordFile(record(k(1), 1)), buildRecordFile(record(k(2), 2))])), { commit: 'c1' });
  const [path2] = buildRecordFile(record(k(2), 2));
  const s2 = applyChanges(s1, parseChanges(new Map([[path2, null], buildRecordFile(record(k(3), 3))])), { commit: 'c2' });
  assert.deepEqual([...buildKeysChangedBetween(s1.state.builds, s2.state.builds)!].sort(), [k(2), k(3)]);
  assert.deepEqual([...buildKeysChangedBetween(emptySnapshot().state.builds, s2.state.builds) ?? ['unknown']], ['unknown'], 'an unrelated map: unknown, compare');
  assert.deepEqual([...buildKeysChangedBetween(s2.state.builds, s2.state.builds)!], []);
  // s1 as the common ancestor of two branches: the union of both sides.
  const results = withBuilds(s1.state.builds, new Map([[k(1), record(k(1), 9)]]));
  assert.deepEqual([...buildKeysChangedBetween(results, s2.state.builds)!].sort(), [k(1), k(2), k(3)]);
});
