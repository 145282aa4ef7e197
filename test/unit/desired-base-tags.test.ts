// The base image tags of a desired state (reconciler/desired/base-tags.ts), derived from the
// state the reader patched it from, against counting every package: after random edit
// sequences (oci packages built FROM tags added, retagged, reverted, renamed, removed), equal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { baseTags } from '../../reconciler/desired/base-tags.ts';
import { recordDesiredChanges } from '../../reconciler/desired/state-changes.ts';
import type { DesiredPackage, DesiredState } from '../../reconciler/model.ts';
import { desiredPackage, desiredState } from '../fixtures/plan-state.ts';
import { seededRandom } from '../helpers/seeded.ts';

function ociPackage(name: string, tag: string): DesiredPackage {
  return { ...desiredPackage(name), format: 'oci', from: { tag } } as unknown as DesiredPackage;
}

test('desired base tags - derived from the previous state equals counting every package, after random edits', (t) => {
  const { random, seed } = seededRandom(t);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const tags = ['r.example/base:1', 'r.example/base:2', 'r.example/other:latest'];
  const make = (name: string): DesiredPackage => (random() < 0.5 ? ociPackage(name, pick(tags)) : desiredPackage(name));
  let derived = 0;
  for (let run = 0; run < 10; run++) {
    let state: DesiredState = desiredState(Array.from({ length: 12 }, (_, i) => make(`p${i}`)));
    const history = new Map<string, DesiredPackage[]>();
    baseTags(state);
    for (let step = 0; step < 40; step++) {
      const packages = new Map(state.packages);
      const names = new Set<string>();
      for (let k = 0, n = 1 + Math.floor(random() * 3); k < n; k++) {
        const name = pick([...packages.keys(), `new${step}`]);
        const before = packages.get(name);
        if (before) history.set(name, [...(history.get(name) ?? []), before]);
        const op = random();
        names.add(name);
        if (op < 0.4 || !before) packages.set(name, make(name));
        else if (op < 0.6) packages.set(name, pick(history.get(name)!)); // revert
        else if (op < 0.8) {
          const to = `ren${step}x${k}`;
          packages.delete(name);
          packages.set(to, { ...before, name: to });
          names.add(to);
        } else packages.delete(name);
      }
      const next: DesiredState = { ...state, commit: `c${step}`, packages };
      if (random() < 0.85) {
        recordDesiredChanges(next, { since: state, packages: names, appended: [] });
        derived++;
      }
      const unrecorded: DesiredState = { ...next };
      assert.deepEqual(baseTags(next), baseTags(unrecorded), `seed ${seed} run ${run} step ${step}`);
      state = next;
    }
  }
  assert.ok(derived > 0);
});
