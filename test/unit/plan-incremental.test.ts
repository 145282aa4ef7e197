// Incremental planning (plan() with a PlanMemo kept between passes) against the
// specification, plan() without one: after random sequences of desired edits (versions,
// rebuilds, architectures, dependencies, buildFrom, config; reverts to earlier package
// objects and to equal new ones; renames; removals; package maps plain or LayeredMap versions with
// the reader's change record) and observed changes (build outcomes
// recorded, queued, failed and retried, with and without the status reader's change lists,
// branches from a common snapshot, earlier records coming back; releases; the clock moving),
// both give the same plan.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBuildDepends } from '../../debian/control.ts';
import { emptyObserved, type DesiredPackage, type DesiredState, type ObservedState } from '../../reconciler/model.ts';
import { LayeredMap } from '../../reconciler/collections/layered-map.ts';
import { recordDesiredChanges } from '../../reconciler/desired/state-changes.ts';
import { keyedInputs } from '../../reconciler/plan/plan-builds.ts';
import { emptyPlanMemo, plan } from '../../reconciler/plan/plan.ts';
import { withBuilds } from '../../reconciler/status/build-changes.ts';
import type { BuildRecord, ReleaseRecord } from '../../schema/status.ts';
import { desiredPackage, desiredState, recordOf, testDistribution } from '../fixtures/plan-state.ts';
import { seededRandom } from '../helpers/seeded.ts';

type Pick = <T>(xs: readonly T[]) => T;

function randomPackage(name: string, pick: Pick, names: string[]): DesiredPackage {
  const deps = pick([0, 0, 1]) ? pick(names.filter((n) => n !== name)) : undefined;
  const control = pick([0, 1, 1])
    ? { ok: true as const, binaries: [`${name}-bin`], buildDepends: parseBuildDepends(`Source: ${name}\nBuild-Depends: debhelper-compat (= 13)${deps ? `, ${deps}-bin (>= 1.0)` : ''}\n`) }
    : pick([undefined, { ok: false as const, message: 'debian/control:1: unreadable' }]);
  return desiredPackage(name, {
    version: pick(['1.0-1', '1.1-1', '2.0-1']),
    rebuild: pick([0, 1]),
    architectures: pick([['amd64'], ['amd64', 'arm64']]),
    release: pick([['testing'], ['testing'], [], ['testing', 'stable']]),
    ...(pick([0, 1]) ? { buildFrom: 'testing' } : {}),
    ...(pick([0, 0, 0, 1]) ? { rebuildDependents: pick(['always', 'never'] as const) } : {}),
    ...(control ? { control } : {}),
  });
}

test('plan incremental - a plan with the memo equals plan() without it after random edit sequences', (t) => {
  const { random, seed } = seededRandom(t);
  const pick: Pick = (xs) => xs[Math.floor(random() * xs.length)];
  for (let run = 0; run < 10; run++) {
    let names = Array.from({ length: 25 }, (_, i) => `pkg${i}`);
    const history = new Map<string, DesiredPackage[]>();
    const packages = new Map(names.map((n) => [n, randomPackage(n, pick, names)]));
    let desired: DesiredState = desiredState([...packages.values()], [testDistribution('testing'), testDistribution('stable', { promoteFrom: 'testing', gate: 'none' })]);
    let observed: ObservedState = emptyObserved();
    let now = Date.parse('2026-11-21T12:00:00Z');
    const memo = emptyPlanMemo();
    const past = new Map<string, BuildRecord[]>();
    for (let step = 0; step < 40; step++) {
      // Desired edits: new package objects for some, reverts, renames, config changes. The package map is
      // made as the incremental reader makes it (a LayeredMap version, the changed names recorded) or plainly.
      const layered = random() < 0.5;
      const pkgs = layered ? LayeredMap.from(desired.packages).edit() : new Map(desired.packages);
      for (let k = 0, n = Math.floor(random() * 4); k < n; k++) {
        const name = pick([...pkgs.keys()]);
        const op = random();
        const before = pkgs.get(name)!;
        history.set(name, [...(history.get(name) ?? []), before]);
        if (op < 0.4) pkgs.set(name, randomPackage(name, pick, names));
        else if (op < 0.55) pkgs.set(name, pick(history.get(name)!)); // revert to an earlier object
        else if (op < 0.65) pkgs.set(name, { ...pick(history.get(name)!) }); // revert to an equal new object
        else if (op < 0.8) {
          const to = `ren${step}x${k}`;
          pkgs.delete(name);
          pkgs.set(to, { ...before, name: to, file: `packages/${to}.yaml` });
          names = [...pkgs.keys()];
        } else pkgs.delete(name);
      }
      const config = random() < 0.1 ? { ...desired.config, defaults: { ...desired.config.defaults, maxAttempts: pick([2, 3]) } } : desired.config;
      const since = desired;
      desired = { ...desired, commit: `c${step}`, config, packages: pkgs instanceof LayeredMap ? pkgs.done() : pkgs };
      if (layered && config === since.config) {
        const changed = new Set([...since.packages.keys(), ...desired.packages.keys()].filter((n) => since.packages.get(n) !== desired.packages.get(n)));
        recordDesiredChanges(desired, { since, packages: changed, appended: [...desired.packages.keys()].filter((n) => !since.packages.has(n)) });
      }

      // Observed: outcomes for some planned builds (record objects of untouched keys are kept).
      now += pick([0, 60_000, 3600_000, 12 * 3600_000]);
      const full = plan(desired, observed, { now: new Date(now) });
      const outcomes = new Map<string, BuildRecord>();
      for (const a of full.actions) {
        if (a.kind !== 'build' || random() < 0.3) continue;
        outcomes.set(a.key, recordOf(a, pick(['succeeded', 'succeeded', 'failed', 'failed-retryable', 'queued'] as const), now, desired.commit));
      }
      // Made as the status reader and the pass make them (the changed keys recorded, build-changes.ts),
      // or plainly (the planner compares every record); now and then an earlier record object comes back.
      for (const key of observed.builds.keys()) if (random() < 0.02) outcomes.set(key, pick([...(past.get(key) ?? [observed.builds.get(key)!])]));
      for (const [key, r] of outcomes) past.set(key, [...(past.get(key) ?? []), r]);
      const builds = random() < 0.7 ? withBuilds(observed.builds, outcomes) : new Map([...observed.builds, ...outcomes]);
      // Publish some ready packages to testing (a new release record object), sometimes.
      let releases = observed.releases;
      if (random() < 0.4) {
        const publishes = full.actions.filter((a) => a.kind === 'publish' && a.distribution === 'testing');
        const prev = observed.releases.get('testing')?.packages ?? [];
        const record: ReleaseRecord = {
          distribution: 'testing',
          desiredCommit: desired.commit,
          packages: [...prev.filter((p) => !publishes.some((a) => a.kind === 'publish' && a.package === p.name)), ...publishes.flatMap((a) => (a.kind === 'publish' ? [{ name: a.package, version: a.version, builds: a.builds }] : []))],
        };
        releases = new Map(releases).set('testing', record);
      }
      observed = { ...observed, builds, releases };

      const opts = { now: new Date(now) };
      const spec = plan(desired, observed, opts);
      const incremental = plan(desired, observed, opts, memo);
      assert.deepEqual(incremental, spec, `seed ${seed} run ${run} step ${step}`);
      // And again with nothing changed (the memo's own answer fed back).
      assert.deepEqual(plan(desired, observed, opts, memo), spec, `seed ${seed} run ${run} step ${step} (repeat)`);
      // Sometimes a branch, as a pass makes one: results collected on top of the snapshot are planned with,
      // and the next snapshot is made from the same one (both sides' changes recorded).
      if (random() < 0.3) {
        const results = new Map([...full.actions].flatMap((a) => (a.kind === 'build' && random() < 0.3 ? [[a.key, recordOf(a, 'succeeded', now, desired.commit)] as const] : [])));
        const withResults: ObservedState = { ...observed, builds: withBuilds(observed.builds, results) };
        assert.deepEqual(plan(desired, withResults, opts, memo), plan(desired, withResults, opts), `seed ${seed} run ${run} step ${step} (results)`);
      }
    }
  }
});

test('plan incremental - a kept package decision is redone when its build record, the config or the clock can change it', () => {
  const p = desiredPackage('hello');
  const desired = desiredState([p]);
  const memo = emptyPlanMemo();
  const now = new Date('2026-11-21T12:00:00Z');
  const empty = emptyObserved();
  assert.equal(plan(desired, empty, { now }, memo).actions.length, 1);
  const { key, inputs } = keyedInputs(p, 'amd64');
  const done: ObservedState = { ...empty, builds: new Map([[key, { key, inputs, pool: 'deb', desiredCommit: 'd', state: 'succeeded', attempts: [{ n: 1, dispatchedAt: now.toISOString(), outcome: 'succeeded' }], artifacts: [] } as BuildRecord]]) };
  assert.deepEqual(plan(desired, done, { now }, memo), plan(desired, done, { now }));
  const queued: ObservedState = { ...empty, builds: new Map([[key, { key, inputs, pool: 'deb', desiredCommit: 'd', state: 'queued', attempts: [{ n: 1, dispatchedAt: now.toISOString() }] } as BuildRecord]]) };
  assert.deepEqual(plan(desired, queued, { now }, memo), plan(desired, queued, { now }));
  const later = new Date(now.getTime() + 7 * 24 * 3600_000); // past the queue deadline: dispatched again
  assert.deepEqual(plan(desired, queued, { now: later }, memo), plan(desired, queued, { now: later }));
  assert.equal(plan(desired, queued, { now: later }, memo).actions[0]?.kind, 'build');
});

test('plan incremental - a kept decision is redone when another package blocks it (a Build-Depends cycle, a duplicate binary)', () => {
  const control = (name: string, dep?: string, binary = `${name}-bin`) => ({ ok: true as const, binaries: [binary], buildDepends: parseBuildDepends(`Source: ${name}\nBuild-Depends: debhelper-compat (= 13)${dep ? `, ${dep}` : ''}\n`) });
  const a = desiredPackage('aa', { control: control('aa', 'bb-bin') });
  const b = desiredPackage('bb', { control: control('bb') });
  const now = new Date('2026-11-21T12:00:00Z');
  const memo = emptyPlanMemo();
  const observed = emptyObserved();
  const base = desiredState([a, b]);
  const withPackages = (...ps: DesiredPackage[]): DesiredState => ({ ...base, packages: new Map(ps.map((p) => [p.name, p])) }); // the same config object
  const states = [
    base,
    withPackages(a, desiredPackage('bb', { control: control('bb', 'aa-bin') })), // a cycle through aa and bb
    withPackages(a, b),
    withPackages(a, b, desiredPackage('cc', { control: control('cc', undefined, 'aa-bin') })), // cc also produces aa-bin
    withPackages(a, b),
  ];
  for (const [i, d] of states.entries()) assert.deepEqual(plan(d, observed, { now }, memo), plan(d, observed, { now }), `state ${i}`);
});

test('plan incremental - a kept decision is redone when a package added later produces what it Build-Depends on', () => {
  const control = (name: string, dep?: string) => ({ ok: true as const, binaries: [`${name}-bin`], buildDepends: parseBuildDepends(`Source: ${name}\nBuild-Depends: debhelper-compat (= 13)${dep ? `, ${dep}` : ''}\n`) });
  const app = desiredPackage('app', { buildFrom: 'testing', control: control('app', 'lib-bin') });
  const base = desiredState([app]);
  const now = new Date('2026-11-21T12:00:00Z');
  const memo = emptyPlanMemo();
  const { key, inputs } = keyedInputs(app, 'amd64');
  const observed: ObservedState = { ...emptyObserved(), builds: new Map([[key, { key, inputs, pool: 'deb', desiredCommit: 'd', state: 'succeeded', attempts: [{ n: 1, dispatchedAt: now.toISOString(), outcome: 'succeeded' }], artifacts: [] } as BuildRecord]]) };
  const lib = desiredPackage('lib', { buildFrom: 'testing', control: control('lib') });
  // lib is published in testing already: once it is in the repo, app is built against it (a new key).
  observed.releases.set('testing', { distribution: 'testing', desiredCommit: 'd', packages: [{ name: 'lib', version: '1.0-1', builds: { amd64: 'k'.repeat(64) } }] });
  for (const d of [base, { ...base, packages: new Map([['app', app], ['lib', lib]]) }]) assert.deepEqual(plan(d, observed, { now }, memo), plan(d, observed, { now }));
});
