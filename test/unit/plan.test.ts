import assert from 'node:assert/strict';
import { test } from 'node:test';
import { REASONS, WAIT_REASONS } from '../../schema/conditions.ts';
import type { BuildRecord, ReleaseRecord } from '../../schema/status.ts';
import { emptyObserved, gateId, type Action, type DesiredDistribution, type DesiredPackage, type DesiredState, type ObservedState } from '../../reconciler/model.ts';
import { keyedInputs } from '../../reconciler/plan/plan-builds.ts';
import { plan, sortActions, sortActionsSlow } from '../../reconciler/plan/plan.ts';
import { seededRandom } from '../helpers/seeded.ts';
import { desiredPackage, desiredState, testDistribution } from '../fixtures/plan-state.ts';

const NOW = new Date('2026-11-21T12:00:00Z');
const pkg = desiredPackage;
const dist = testDistribution;
const desired = desiredState;

function record(p: DesiredPackage, arch: 'amd64' | 'arm64', over: Partial<BuildRecord> = {}): BuildRecord {
  const { key, inputs } = keyedInputs(p, arch);
  return {
    key,
    inputs,
    pool: 'deb',
    desiredCommit: 'd'.repeat(40),
    state: 'succeeded',
    attempts: [{ n: 1, dispatchedAt: '2026-11-21T11:00:00Z', outcome: 'succeeded' }],
    artifacts: [],
    ...over,
  };
}

function observed(builds: BuildRecord[] = [], releases: ReleaseRecord[] = []): ObservedState {
  const o = emptyObserved();
  for (const b of builds) o.builds.set(b.key, b);
  for (const r of releases) o.releases.set(r.distribution, r);
  return o;
}

function release(distName: string, entries: Array<[DesiredPackage, string]>): ReleaseRecord {
  return {
    distribution: distName,
    desiredCommit: 'd'.repeat(40),
    packages: entries.map(([p, version]) => ({ name: p.name, version, builds: { amd64: keyedInputs({ ...p, version }, 'amd64').key } })),
  };
}

const summary = (actions: Action[]) =>
  actions.map((a) =>
    a.kind === 'build' ? `build ${a.package}/${a.arch}#${a.attempt} ${a.reason}` : a.kind === 'refuse' ? `refuse ${a.reason}` : a.kind === 'republish' ? `republish ${a.distribution} ${a.reason}` : `${a.kind} ${a.distribution}/${a.package}@${a.version} ${a.reason}`,
  );

const hello = pkg('hello');
const hello2 = pkg('hello', { version: '2.0-1' });
const multi = pkg('multi', { architectures: ['amd64', 'arm64'] });

const cases: Array<{ name: string; desired: DesiredState; observed: ObservedState; want: string[]; waiting?: string[] }> = [
  { name: 'nothing desired plans nothing', desired: desired([]), observed: observed(), want: [] },
  {
    name: 'a new package is built for every architecture',
    desired: desired([multi]),
    observed: observed(),
    want: [`build multi/amd64#1 ${REASONS.buildNew}`, `build multi/arm64#1 ${REASONS.buildNew}`],
    waiting: [WAIT_REASONS.awaitingBuild],
  },
  {
    name: 'a queued build is waited for, not dispatched again',
    desired: desired([hello]),
    observed: observed([record(hello, 'amd64', { state: 'queued', attempts: [{ n: 1, dispatchedAt: '2026-11-21T11:59:00Z' }] })]),
    want: [],
    waiting: [WAIT_REASONS.building, WAIT_REASONS.awaitingBuild],
  },
  {
    name: 'a queued build with no result long past its deadline is dispatched again',
    desired: desired([hello]),
    observed: observed([record(hello, 'amd64', { state: 'queued', attempts: [{ n: 1, dispatchedAt: '2026-11-20T00:00:00Z' }] })]),
    want: [`build hello/amd64#2 ${REASONS.buildRequeue}`],
    waiting: [WAIT_REASONS.awaitingBuild],
  },
  {
    name: 'a built package not yet published is published',
    desired: desired([hello]),
    observed: observed([record(hello, 'amd64')]),
    want: [`publish testing/hello@1.0-1 ${REASONS.publishNew}`],
  },
  {
    name: 'a published package plans nothing',
    desired: desired([hello]),
    observed: observed([record(hello, 'amd64')], [release('testing', [[hello, '1.0-1']])]),
    want: [],
  },
  {
    name: 'a build failure of the recipe is not retried',
    desired: desired([hello]),
    observed: observed([record(hello, 'amd64', { state: 'failed', failure: { class: 'build', reason: 'exit 2', retryable: false } })]),
    want: [],
    waiting: [WAIT_REASONS.failed, WAIT_REASONS.awaitingBuild],
  },
  {
    name: 'an infra failure is retried once its backoff elapsed',
    desired: desired([hello]),
    observed: observed([record(hello, 'amd64', { state: 'failed', retryAt: '2026-11-21T11:59:00Z', failure: { class: 'infra', reason: 'agent lost', retryable: true } })]),
    want: [`build hello/amd64#2 ${REASONS.buildRetry}`],
    waiting: [WAIT_REASONS.awaitingBuild],
  },
  {
    name: 'an infra failure inside its backoff window waits',
    desired: desired([hello]),
    observed: observed([record(hello, 'amd64', { state: 'failed', retryAt: '2026-11-21T12:05:00Z', failure: { class: 'infra', reason: 'agent lost', retryable: true } })]),
    want: [],
    waiting: [WAIT_REASONS.retryBackoff, WAIT_REASONS.awaitingBuild],
  },
  {
    name: 'an infra failure at the attempt limit is final',
    desired: desired([hello]),
    observed: observed([
      record(hello, 'amd64', {
        state: 'failed',
        retryAt: '2026-11-21T11:00:00Z',
        attempts: [1, 2, 3].map((n) => ({ n, dispatchedAt: '2026-11-21T10:00:00Z' })),
        failure: { class: 'infra', reason: 'agent lost', retryable: true },
      }),
    ]),
    want: [],
    waiting: [WAIT_REASONS.failed, WAIT_REASONS.awaitingBuild],
  },
  {
    name: 'after `kiln retry`, a build that used all its attempts gets a fresh budget',
    desired: desired([hello]),
    observed: observed([
      record(hello, 'amd64', {
        state: 'failed',
        retryAt: '2026-11-21T11:59:00Z',
        retryBase: 3,
        attempts: [1, 2, 3].map((n) => ({ n, dispatchedAt: '2026-11-21T10:00:00Z' })),
        failure: { class: 'build', reason: 'exit 2 — retry requested', retryable: true },
      }),
    ]),
    want: [`build hello/amd64#4 ${REASONS.buildRetry}`],
    waiting: [WAIT_REASONS.awaitingBuild],
  },
  {
    name: 'a rebuild counter bump builds again and republishes the same version',
    desired: desired([pkg('hello', { rebuild: 1 })]),
    observed: observed([record(hello, 'amd64')], [release('testing', [[hello, '1.0-1']])]),
    want: [`build hello/amd64#1 ${REASONS.buildNew}`],
  },
  {
    name: 'a new version is published and the old one kept within the keep policy',
    desired: desired([hello2]),
    observed: observed([record(hello, 'amd64'), record(hello2, 'amd64')], [release('testing', [[hello, '1.0-1']])]),
    want: [`publish testing/hello@2.0-1 ${REASONS.publishUpgrade}`],
  },
  {
    name: 'versions beyond the keep policy are pruned, newest kept',
    desired: desired([pkg('hello', { version: '3.0-1' })]),
    observed: observed([record(pkg('hello', { version: '3.0-1' }), 'amd64')], [release('testing', [[hello, '1.0-1'], [hello2, '2.0-1']])]),
    want: [`publish testing/hello@3.0-1 ${REASONS.publishUpgrade}`, `prune testing/hello@1.0-1 ${REASONS.pruneOld}`],
  },
  {
    name: 'old versions stay published while the new one is still building',
    desired: desired([pkg('hello', { version: '3.0-1' })]),
    observed: observed([], [release('testing', [[hello, '1.0-1'], [hello2, '2.0-1']])]),
    want: [`build hello/amd64#1 ${REASONS.buildNew}`],
  },
  {
    name: 'a package removed from the desired state is pruned',
    desired: desired([]),
    observed: observed([], [release('testing', [[hello, '1.0-1']])]),
    want: [`prune testing/hello@1.0-1 ${REASONS.pruneRemoved}`],
  },
  {
    name: 'a package no longer released to a distribution is pruned there',
    desired: desired([pkg('hello', { release: [] })]),
    observed: observed([record(hello, 'amd64')], [release('testing', [[hello, '1.0-1']])]),
    want: [`prune testing/hello@1.0-1 ${REASONS.pruneRemoved}`],
  },
  {
    name: 'a removed distribution has everything pruned',
    desired: desired([], []),
    observed: observed([], [release('old', [[hello, '1.0-1']])]),
    want: [`prune old/hello@1.0-1 ${REASONS.pruneRemoved}`],
  },
  {
    name: 'promotion waits until the source distribution published the version',
    desired: desired([pkg('hello', { release: ['testing', 'stable'] })], [dist('testing'), dist('stable', { promoteFrom: 'testing', gate: 'install-smoke' })]),
    observed: observed([record(hello, 'amd64')]),
    want: [`publish testing/hello@1.0-1 ${REASONS.publishNew}`],
    waiting: [WAIT_REASONS.awaitingSource],
  },
  {
    name: 'promotion runs the gate once the source published it',
    desired: desired([pkg('hello', { release: ['testing', 'stable'] })], [dist('testing'), dist('stable', { promoteFrom: 'testing', gate: 'install-smoke' })]),
    observed: observed([record(hello, 'amd64')], [release('testing', [[hello, '1.0-1']])]),
    want: [`gate stable/hello@1.0-1 ${REASONS.gateNeeded}`],
  },
  {
    name: 'a version the distribution rejected waits with the reason; what is published stays',
    desired: desired([hello2]),
    observed: observed([record(hello2, 'amd64')], [rejectedIn(release('testing', [[hello, '1.0-1']]), hello2, keyedInputs(hello2, 'amd64').key)]),
    want: [],
    waiting: [WAIT_REASONS.publishRejected],
  },
  {
    name: 'a rebuild of a rejected version is tried again',
    desired: desired([hello2]),
    observed: observed([record(hello2, 'amd64')], [rejectedIn(release('testing', [[hello, '1.0-1']]), hello2, 'e'.repeat(64))]),
    want: [`publish testing/hello@2.0-1 ${REASONS.publishUpgrade}`],
  },
  {
    name: 'a distribution whose repository drifted from its record is published again',
    desired: desired([hello]),
    observed: { ...observed([record(hello, 'amd64')], [release('testing', [[hello, '1.0-1']])]), drift: new Map([['testing', 'dists/testing/Release is missing']]) },
    want: [`republish testing ${REASONS.publishDrift}`],
  },
];

function rejectedIn(r: ReleaseRecord, p: DesiredPackage, key: string): ReleaseRecord {
  return { ...r, rejected: [{ name: p.name, version: p.version, builds: { amd64: key }, reason: 'pool/main/h/hello/hello_2.0-1_amd64.deb is already published with other bytes', at: NOW.toISOString() }] };
}

for (const c of cases) {
  test(`plan - ${c.name}`, () => {
    const p = plan(c.desired, c.observed, { now: NOW });
    assert.deepEqual(summary(p.actions), c.want);
    if (c.waiting) assert.deepEqual(p.waiting.map((w) => w.reason), c.waiting);
    for (const a of p.actions) assert.ok(a.message.length > 10, `action has a human reason: ${a.message}`);
  });
}

test('plan - a failed gate blocks promotion with its reason', () => {
  const d = desired([pkg('hello', { release: ['testing', 'stable'] })], [dist('testing'), dist('stable', { promoteFrom: 'testing', gate: 'install-smoke' })]);
  const o = observed([record(hello, 'amd64')], [release('testing', [[hello, '1.0-1']])]);
  const builds = { amd64: keyedInputs(pkg('hello', { release: ['testing', 'stable'] }), 'amd64').key };
  o.gates.set(gateId('stable', 'hello', '1.0-1'), { distribution: 'stable', from: 'testing', package: 'hello', version: '1.0-1', builds, verdict: 'failed', reason: 'smoke exited 1', at: NOW.toISOString() });
  const p = plan(d, o, { now: NOW });
  assert.deepEqual(p.actions, []);
  assert.equal(p.waiting[0].reason, WAIT_REASONS.gateFailed);
  assert.match(p.waiting[0].message, /smoke exited 1/);
});

test('plan - an untrusted commit plans one refusal and nothing else, once', () => {
  const d = desired([hello]);
  const p = plan(d, observed(), { now: NOW, trust: { trusted: false, reason: 'unsigned commit' } });
  assert.deepEqual(summary(p.actions), [`refuse ${REASONS.refuseUntrusted}`]);
  const o = observed();
  o.checks.set(d.commit, { commit: d.commit, verdict: 'refused', reason: 'unsigned commit', at: NOW.toISOString() });
  assert.deepEqual(plan(d, o, { now: NOW, trust: { trusted: false, reason: 'unsigned commit' } }).actions, []);
});

test('plan - is deterministic and does not mutate its inputs', () => {
  const d = desired([multi, hello]);
  const o = observed([record(hello, 'amd64')]);
  const before = JSON.stringify([...o.builds]);
  assert.deepEqual(plan(d, o, { now: NOW }), plan(d, o, { now: NOW }));
  assert.equal(JSON.stringify([...o.builds]), before);
});

/** Stands in for the world: records each action's outcome the way a pass does. */
function applyOutcomes(d: DesiredState, o: ObservedState, actions: Action[]): void {
  for (const a of actions) {
    if (a.kind === 'build') {
      o.builds.set(a.key, { key: a.key, inputs: a.inputs, pool: a.pool, desiredCommit: d.commit, state: 'succeeded', attempts: [{ n: a.attempt, dispatchedAt: NOW.toISOString(), outcome: 'succeeded' }], artifacts: [] });
    } else if (a.kind === 'publish' || a.kind === 'prune') {
      const rec = o.releases.get(a.distribution) ?? { distribution: a.distribution, desiredCommit: d.commit, packages: [] };
      const packages = rec.packages.filter((p) => !(p.name === a.package && p.version === a.version));
      if (a.kind === 'publish') packages.push({ name: a.package, version: a.version, builds: a.builds });
      o.releases.set(a.distribution, { ...rec, packages });
    } else if (a.kind === 'gate') {
      o.gates.set(gateId(a.distribution, a.package, a.version), { distribution: a.distribution, from: a.from, package: a.package, version: a.version, builds: a.builds, verdict: 'passed', at: NOW.toISOString() });
    }
  }
}

test('plan - converges: build, publish, gate, promote, then a second pass plans nothing', () => {
  const d = desired(
    [pkg('hello', { release: ['testing', 'stable'] }), pkg('multi', { architectures: ['amd64', 'arm64'], release: ['testing'] })],
    [dist('testing'), dist('stable', { promoteFrom: 'testing', gate: 'install-smoke' })],
  );
  const o = observed();
  const rounds: string[][] = [];
  for (let i = 0; i < 10; i++) {
    const p = plan(d, o, { now: NOW });
    if (p.actions.length === 0) break;
    rounds.push(summary(p.actions));
    applyOutcomes(d, o, p.actions);
  }
  assert.deepEqual(rounds.map((r) => r.map((s) => s.split(' ')[0])), [
    ['build', 'build', 'build'],
    ['publish', 'publish'],
    ['gate'],
    ['publish'],
  ]);
  assert.deepEqual(plan(d, o, { now: NOW }).actions, [], 'a second pass over the same state plans nothing');
  assert.deepEqual(o.releases.get('stable')?.packages.map((p) => `${p.name}@${p.version}`), ['hello@1.0-1']);
});

test('plan - a gate verdict is about its builds: a rebuild of the same version is gated again', () => {
  const old = pkg('hello', { release: ['testing', 'stable'] });
  const rebuilt = pkg('hello', { release: ['testing', 'stable'], rebuild: 1 });
  const d = desired([rebuilt], [dist('testing'), dist('stable', { promoteFrom: 'testing', gate: 'install-smoke' })]);
  const o = observed([record(old, 'amd64'), record(rebuilt, 'amd64')], [release('testing', [[rebuilt, '1.0-1']]), release('stable', [[old, '1.0-1']])]);
  // release() keys entries by a package with the default rebuild counter: point testing at the rebuild.
  o.releases.get('testing')!.packages[0].builds = { amd64: keyedInputs(rebuilt, 'amd64').key };
  o.gates.set(gateId('stable', 'hello', '1.0-1'), { distribution: 'stable', from: 'testing', package: 'hello', version: '1.0-1', builds: { amd64: keyedInputs(old, 'amd64').key }, verdict: 'passed', at: NOW.toISOString() });
  assert.deepEqual(summary(plan(d, o, { now: NOW }).actions), [`gate stable/hello@1.0-1 ${REASONS.gateNeeded}`]);
});

test('plan - actions sorted with labels made once come in the order of labels compared by localeCompare (seeded random actions)', (t) => {
  const { random, seed } = seededRandom(t);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  // Case, accents, digits, punctuation and repeats: where a collation and a byte order part ways, and where stability shows.
  const parts = ['a', 'A', 'b', 'é', 'e', 'E', 'z', '1', '10', '2', '-', '_', '.', '/', 'ß', 'ss', 'pkg-0001', 'pkg-001', 'Ω', ' '];
  const word = () => Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(parts)).join('');
  const action = (): Action => {
    const kind = pick(['build', 'refuse', 'republish', 'publish', 'prune', 'gate'] as const);
    const common = { reason: 'r', message: 'm' } as const;
    if (kind === 'build') return { kind, ...common, package: word(), arch: pick(['amd64', 'arm64']) } as unknown as Action;
    if (kind === 'refuse') return { kind, ...common, commit: word() } as unknown as Action;
    if (kind === 'republish') return { kind, ...common, distribution: word() } as unknown as Action;
    return { kind, ...common, distribution: word(), package: word(), version: word() } as unknown as Action;
  };
  for (let round = 0; round < 200; round++) {
    const actions = Array.from({ length: Math.floor(random() * 60) }, action);
    const want = sortActionsSlow([...actions]).map((a) => actions.indexOf(a));
    const got = sortActions([...actions]).map((a) => actions.indexOf(a));
    assert.deepEqual(got, want, `seed ${seed}, round ${round}`);
  }
});
