import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBuildDepends } from '../../debian/control.ts';
import { WAIT_REASONS } from '../../schema/conditions.ts';
import type { BuildRecord, ReleaseRecord } from '../../schema/status.ts';
import { emptyObserved, type DebPackage, type DesiredPackage, type ObservedState, type Plan } from '../../reconciler/model.ts';
import { dependencyGraph } from '../../reconciler/plan/dependency-graph.ts';
import { keyedInputs } from '../../reconciler/plan/plan-builds.ts';
import { plan } from '../../reconciler/plan/plan.ts';
import { desiredPackage, desiredState } from '../fixtures/plan-state.ts';

const NOW = new Date('2026-11-21T12:00:00Z');
/** A package whose debian/control produces `binaries` and Build-Depends on `deps` (control syntax). */
function pkg(name: string, binaries: string[], deps = '', over: Partial<DebPackage> = {}): DebPackage {
  const buildDepends = parseBuildDepends(`Source: ${name}\nBuild-Depends: debhelper-compat (= 13)${deps ? `, ${deps}` : ''}\n`);
  return desiredPackage(name, { version: '1.1-1', buildFrom: 'testing', control: { ok: true, binaries, buildDepends }, ...over });
}

const desired = (packages: DesiredPackage[]) => desiredState(packages);

function built(p: DesiredPackage, state: 'succeeded' | 'failed' = 'succeeded', against?: Record<string, string>): BuildRecord {
  const { key, inputs } = keyedInputs(p, 'amd64', against);
  return {
    key,
    inputs,
    pool: 'deb',
    desiredCommit: 'd'.repeat(40),
    state,
    attempts: [{ n: 1, dispatchedAt: '2026-11-21T11:00:00Z', outcome: state }],
    artifacts: [],
    ...(state === 'failed' ? { failure: { class: 'build', reason: 'compile error', retryable: false } } : {}),
  } as BuildRecord;
}

/** `published`: [package, version, build key (default: its key without dependencies)]. */
function observed(builds: BuildRecord[], published: Array<[DesiredPackage, string, string?]> = []): ObservedState {
  const o = emptyObserved();
  for (const b of builds) o.builds.set(b.key, b);
  const rec: ReleaseRecord = {
    distribution: 'testing',
    desiredCommit: 'd'.repeat(40),
    packages: published.map(([p, version, key]) => ({ name: p.name, version, builds: { amd64: key ?? keyedInputs({ ...p, version }, 'amd64').key } })),
  };
  if (published.length) o.releases.set('testing', rec);
  return o;
}

const builds = (p: Plan) => p.actions.flatMap((a) => (a.kind === 'build' ? [a.package] : [])).sort();
const waits = (p: Plan) => p.waiting.filter((w) => w.subject.startsWith('build ')).map((w) => `${w.subject.split(' ')[1]} ${w.reason}: ${w.message}`);

const lib = pkg('libkilnhello', ['libkilnhello1', 'libkilnhello-dev']);
const app = pkg('kilnhello', ['kilnhello'], 'libkilnhello-dev (>= 1.1)');

test('plan dependencies - order and waits: the dependent builds only once a satisfying version is published in buildFrom', () => {
  const cases: Array<{ name: string; obs: ObservedState; builds: string[]; waits: RegExp[] }> = [
    { name: 'nothing built', obs: observed([]), builds: ['libkilnhello'], waits: [/^kilnhello\/amd64 AwaitingDependency: .*libkilnhello-dev \(>= 1\.1\): libkilnhello is not published in testing yet$/] },
    { name: 'built, not yet published', obs: observed([built(lib)]), builds: [], waits: [/AwaitingDependency: .*not published in testing/] },
    {
      name: 'an older version published',
      obs: observed([built(lib)], [[lib, '1.0-1']]),
      builds: [],
      waits: [/AwaitingDependency: .*testing has libkilnhello 1\.0-1, which does not satisfy libkilnhello-dev \(>= 1\.1\)$/],
    },
    { name: 'a satisfying version published', obs: observed([built(lib)], [[lib, '1.1-1']]), builds: ['kilnhello'], waits: [] },
    { name: 'the dependency failed', obs: observed([built(lib, 'failed')]), builds: [], waits: [/^libkilnhello\/amd64 BuildFailed/, /^kilnhello\/amd64 DependencyFailed: .*needs libkilnhello-dev \(>= 1\.1\), but libkilnhello failed to build/] },
  ];
  for (const c of cases) {
    const p = plan(desired([app, lib]), c.obs, { now: NOW });
    assert.deepEqual(builds(p), c.builds, c.name);
    const w = waits(p);
    assert.equal(w.length, c.waits.length, `${c.name}: ${w.join('\n')}`);
    c.waits.forEach((re, i) => assert.match(w.find((x) => re.test(x)) ?? w[i], re, c.name));
  }
});

test('plan dependencies - a failed dependency is not retried in a loop: a second plan plans nothing for it', () => {
  const obs = observed([built(lib, 'failed')]);
  assert.deepEqual(builds(plan(desired([app, lib]), obs, { now: NOW })), []);
  assert.deepEqual(builds(plan(desired([app, lib]), obs, { now: NOW })), []);
});

test('plan dependencies - a failure propagates down a chain as DependencyFailed', () => {
  const mid = pkg('mid', ['libmid-dev'], 'libkilnhello-dev');
  const top = pkg('top', ['top'], 'libmid-dev');
  const p = plan(desired([top, mid, lib]), observed([built(lib, 'failed')]), { now: NOW });
  assert.deepEqual(builds(p), []);
  assert.match(waits(p).find((w) => w.startsWith('top/'))!, /DependencyFailed: .*but mid cannot be built \(DependencyFailed\)/);
});

test('plan dependencies - a cycle is refused naming every file; bootstrap: true breaks it; others still build', () => {
  const a = pkg('a', ['liba-dev'], 'libb-dev');
  const b = pkg('b', ['libb-dev'], 'libc-dev');
  const c = pkg('c', ['libc-dev'], 'liba-dev');
  const free = pkg('free', ['free']);
  const p = plan(desired([a, b, c, free]), observed([]), { now: NOW });
  assert.deepEqual(builds(p), ['free']);
  for (const n of ['a', 'b', 'c']) assert.match(waits(p).find((w) => w.startsWith(`${n}/`))!, /DependencyCycle: .*packages\/a\.yaml, packages\/b\.yaml, packages\/c\.yaml/);
  const broken = plan(desired([{ ...a, bootstrap: true }, b, c, free]), observed([]), { now: NOW });
  assert.deepEqual(builds(broken), ['a', 'free']);
  assert.deepEqual(dependencyGraph(desired([{ ...a, bootstrap: true }, b, c]).packages).order, ['a', 'c', 'b']);
});

test('plan dependencies - two packages producing one binary are both refused, both files named', () => {
  const one = pkg('one', ['libdup']);
  const two = pkg('two', ['libdup']);
  const p = plan(desired([one, two, lib]), observed([]), { now: NOW });
  assert.deepEqual(builds(p), ['libkilnhello']);
  for (const n of ['one', 'two']) assert.match(waits(p).find((w) => w.startsWith(`${n}/`))!, /DuplicateBinary: .*libdup .*packages\/one\.yaml, packages\/two\.yaml/);
});

test('plan dependencies - an unparsable debian/control stops that package only', () => {
  const bad = pkg('bad', [], '', { control: { ok: false, message: '/src/bad at aaaaaaaaaaaa: debian/control:2: Build-Depends: unexpected ...' } });
  const p = plan(desired([bad, lib]), observed([]), { now: NOW });
  assert.deepEqual(builds(p), ['libkilnhello']);
  assert.match(waits(p)[0], /^bad\/amd64 BadBuildDepends: .*debian\/control:2: Build-Depends/);
});

test('plan dependencies - no buildFrom, or a relation for another architecture or profile, does not wait', () => {
  assert.deepEqual(builds(plan(desired([{ ...app, buildFrom: undefined }, lib]), observed([]), { now: NOW })), ['kilnhello', 'libkilnhello']);
  const armOnly = pkg('armonly', ['armonly'], 'libkilnhello-dev [arm64]');
  assert.deepEqual(builds(plan(desired([armOnly, lib]), observed([]), { now: NOW })), ['armonly', 'libkilnhello']);
  const crossOnly = pkg('crossonly', ['crossonly'], 'libkilnhello-dev <cross>');
  assert.deepEqual(builds(plan(desired([crossOnly, lib]), observed([]), { now: NOW })), ['crossonly', 'libkilnhello'], 'a relation for an inactive build profile');
});

test('plan dependencies - converges: with the library published and the program built and published, a second plan plans nothing', () => {
  const appBuilt = built(app, 'succeeded', { libkilnhello: '1.1-1' });
  const obs = observed([built(lib), appBuilt], [[lib, '1.1-1'], [app, '1.1-1', appBuilt.key]]);
  const p = plan(desired([app, lib]), obs, { now: NOW });
  assert.deepEqual(p.actions, []);
  assert.deepEqual(waits(p), []);
});

test('plan dependencies - reverse-dependency rebuilds follow the dependency\'s rebuildDependents policy', () => {
  const rebuiltLib = { ...lib, rebuild: 1 };
  const newerLib = { ...lib, version: '1.2-1' };
  const appBuilt = built(app, 'succeeded', { libkilnhello: '1.1-1' });
  const appBuiltAlways = built(app, 'succeeded', { libkilnhello: `1.1-1@${keyedInputs(lib, 'amd64').key}` });
  const cases: Array<{ name: string; policy?: 'always' | 'on-version-change' | 'never'; libNow: DebPackage; appRecord: BuildRecord; rebuilt: boolean }> = [
    { name: 'on-version-change (default), same version rebuilt', libNow: rebuiltLib, appRecord: appBuilt, rebuilt: false },
    { name: 'on-version-change (default), newer version published', libNow: newerLib, appRecord: appBuilt, rebuilt: true },
    { name: 'always, same version rebuilt', policy: 'always', libNow: rebuiltLib, appRecord: appBuiltAlways, rebuilt: true },
    { name: 'always, nothing changed', policy: 'always', libNow: lib, appRecord: appBuiltAlways, rebuilt: false },
    { name: 'never, newer version published', policy: 'never', libNow: newerLib, appRecord: built(app), rebuilt: false },
  ];
  for (const c of cases) {
    const libDesired = { ...c.libNow, ...(c.policy ? { rebuildDependents: c.policy } : {}) };
    const obs = observed([built(c.libNow), c.appRecord], [[c.libNow, c.libNow.version], [app, '1.1-1', c.appRecord.key]]);
    const p = plan(desired([app, libDesired]), obs, { now: NOW });
    assert.equal(builds(p).includes('kilnhello'), c.rebuilt, c.name);
    const again = plan(desired([app, libDesired]), obs, { now: NOW });
    assert.deepEqual(builds(again), builds(p), `${c.name}: deterministic`);
  }
});

test('plan dependencies - a rebuild of an unchanged version against a new dependency is a binNMU: +kiln1, then +kiln2, each found again by its own record', () => {
  const lib12 = { ...lib, version: '1.2-1' };
  const lib13 = { ...lib, version: '1.3-1' };
  const appBuilt = built(app, 'succeeded', { libkilnhello: '1.1-1' });
  const buildOf = (p: Plan) => p.actions.find((a) => a.kind === 'build' && a.package === 'kilnhello');

  // libkilnhello 1.2 published: kilnhello 1.1-1 (unchanged) is rebuilt as binNMU 1.
  const first = plan(desired([app, lib12]), observed([built(lib12), appBuilt], [[lib12, '1.2-1'], [app, '1.1-1', appBuilt.key]]), { now: NOW });
  const b1 = buildOf(first);
  assert.ok(b1 && b1.kind === 'build');
  assert.equal(b1.inputs.binNMU, 1);
  assert.deepEqual(b1.inputs.builtAgainst, { libkilnhello: '1.2-1' });
  assert.equal(b1.buildFrom, 'testing', 'the action names the distribution the job installs from');

  // Dispatched (queued), then succeeded: the same key is found, not a binNMU 2.
  const queued: BuildRecord = { ...appBuilt, key: b1.key, inputs: b1.inputs, state: 'queued', attempts: [{ n: 1, dispatchedAt: NOW.toISOString() }] } as BuildRecord;
  const whileQueued = plan(desired([app, lib12]), observed([built(lib12), appBuilt, queued], [[lib12, '1.2-1'], [app, '1.1-1', appBuilt.key]]), { now: NOW });
  assert.equal(buildOf(whileQueued), undefined, 'a queued binNMU is not dispatched again');
  const done: BuildRecord = { ...queued, state: 'succeeded' };
  const obs2 = observed([built(lib12), appBuilt, done], [[lib12, '1.2-1'], [app, '1.1-1', done.key]]);
  const settled = plan(desired([app, lib12]), obs2, { now: NOW });
  assert.deepEqual(settled.actions, [], 'converged on the binNMU build');

  // libkilnhello 1.3: binNMU 2 (one more than any build of kilnhello 1.1-1 had).
  const third = plan(desired([app, lib13]), observed([built(lib12), built(lib13), appBuilt, done], [[lib13, '1.3-1'], [app, '1.1-1', done.key]]), { now: NOW });
  const b2 = buildOf(third);
  assert.ok(b2 && b2.kind === 'build');
  assert.equal(b2.inputs.binNMU, 2);

  // A new version of kilnhello itself starts over: no binNMU.
  const app12 = { ...app, version: '1.2-1' };
  const fresh = plan(desired([app12, lib13]), observed([built(lib13), appBuilt, done], [[lib13, '1.3-1'], [app, '1.1-1', done.key]]), { now: NOW });
  const b3 = buildOf(fresh);
  assert.ok(b3 && b3.kind === 'build');
  assert.equal(b3.inputs.binNMU, undefined);
});

test('plan dependencies - the binNMU number follows a record whose state changed in place (the build history is not a stale copy)', () => {
  const lib12 = { ...lib, version: '1.2-1' };
  const appQueued: BuildRecord = { ...built(app, 'succeeded', { libkilnhello: '1.1-1' }), state: 'queued' };
  const obs = observed([built(lib12), appQueued], [[lib12, '1.2-1']]);
  const binNMU = () => plan(desired([app, lib12]), obs, { now: NOW }).actions.flatMap((a) => (a.kind === 'build' && a.package === 'kilnhello' ? [a.inputs.binNMU ?? 0] : []));
  assert.deepEqual(binNMU(), [0], 'no earlier build of kilnhello 1.1-1 succeeded: the plain version');
  obs.builds.set(appQueued.key, { ...appQueued, state: 'succeeded' }); // same map, same size
  assert.deepEqual(binNMU(), [1], 'now one did: binNMU 1');
});
