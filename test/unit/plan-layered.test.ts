// Layered images in the planner: an oci package `from:` another oci package of
// the repo waits until the base's build succeeded, is built FROM the image that
// build pushed (by digest, part of its key), and a base rebuild with a new digest
// plans its rebuild; an `install:` list waits like Build-Depends on a buildFrom
// distribution. Pure: hand-made desired and observed states.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WAIT_REASONS } from '../../schema/conditions.ts';
import type { BuildRecord, ReleaseRecord } from '../../schema/status.ts';
import { emptyObserved, type DesiredPackage, type ObservedState, type OciPackage, type Plan } from '../../reconciler/model.ts';
import { keyedInputs } from '../../reconciler/plan/plan-builds.ts';
import { emptyPlanMemo } from '../../reconciler/plan/plan-patch.ts';
import { plan } from '../../reconciler/plan/plan.ts';
import { parseBuildDepends } from '../../debian/control.ts';
import { desiredPackage, desiredState, LIMITS } from '../fixtures/plan-state.ts';
import { seededRandom } from '../helpers/seeded.ts';

const NOW = new Date('2026-11-30T12:00:00Z');
const CAND = '127.0.0.1:5000';
const digest = (c: string) => `sha256:${c.repeat(64)}`;

function image(name: string, over: Partial<OciPackage> = {}): OciPackage {
  return {
    name,
    file: `packages/${name}.yaml`,
    version: '1.0-1',
    source: { git: '../images', url: '/src/images', ref: 'main', commit: 'a'.repeat(40), subdir: name },
    format: 'oci',
    architectures: ['amd64'],
    image: 'scratch',
    pool: 'oci',
    limits: LIMITS,
    release: [],
    rebuild: 0,
    dockerfile: 'Dockerfile',
    context: '.',
    tags: ['{version}'],
    ...over,
  };
}

const base = image('kiln-base');
const app = image('hello-image', { from: { package: 'kiln-base' } });

/** A record of `p`'s build (FROM `from` when given) that pushed an image with manifest digest `d`. */
function built(p: DesiredPackage, state: 'succeeded' | 'failed' | 'queued', d?: string, from?: string, against?: Record<string, string>): BuildRecord {
  const { key, inputs } = keyedInputs(p, 'amd64', against, 0, from);
  return {
    key,
    inputs,
    pool: p.pool,
    desiredCommit: 'd'.repeat(40),
    state,
    attempts: [{ n: 1, dispatchedAt: NOW.toISOString(), ...(state === 'queued' ? {} : { outcome: state }) }],
    artifacts: [],
    ...(d ? { image: { repository: `${CAND}/${p.name}`, manifestDigest: d, mediaType: 'application/vnd.docker.distribution.manifest.v2+json', configDigest: digest('c'), layers: [], size: 1 } } : {}),
    ...(state === 'failed' ? { failure: { class: 'build', reason: 'RUN false', retryable: false } } : {}),
  } as BuildRecord;
}

function observed(builds: BuildRecord[], release?: ReleaseRecord): ObservedState {
  const o = emptyObserved();
  for (const b of builds) o.builds.set(b.key, b);
  if (release) o.releases.set(release.distribution, release);
  return o;
}

const buildActions = (p: Plan) => p.actions.flatMap((a) => (a.kind === 'build' ? [a] : []));
const waitsOf = (p: Plan) => p.waiting.filter((w) => w.subject.startsWith('build ')).map((w) => `${w.subject.split(' ')[1]} ${w.reason}: ${w.message}`);
const state = (packages: DesiredPackage[]) => desiredState(packages, []);

test('plan layered - the app waits for its base, then is built FROM the digest the base build pushed', () => {
  const first = plan(state([app, base]), observed([]), { now: NOW });
  assert.deepEqual(buildActions(first).map((a) => a.package), ['kiln-base']);
  assert.deepEqual(waitsOf(first), [`hello-image/amd64 ${WAIT_REASONS.awaitingDependency}: hello-image 1.0-1 (amd64) waits for its base image kiln-base (build ${buildActions(first)[0].key.slice(0, 12)})`]);

  const baseBuilt = built(base, 'succeeded', digest('1'));
  const second = plan(state([app, base]), observed([baseBuilt]), { now: NOW });
  const [a] = buildActions(second);
  assert.equal(a.package, 'hello-image');
  assert.equal(a.inputs.recipe.oci?.from, `${CAND}/kiln-base@${digest('1')}`, 'the recipe names the base by digest');
  assert.equal(a.key, keyedInputs(app, 'amd64', undefined, 0, `${CAND}/kiln-base@${digest('1')}`).key);

  // Converged: a second pass over the same state plans nothing.
  const appBuilt = built(app, 'succeeded', digest('2'), `${CAND}/kiln-base@${digest('1')}`);
  const done = plan(state([app, base]), observed([baseBuilt, appBuilt]), { now: NOW });
  assert.deepEqual(buildActions(done), []);
  assert.deepEqual(waitsOf(done), []);
});

test('plan layered - a base rebuild with a new digest plans a rebuild of the app FROM the new digest; the same digest plans nothing', () => {
  const rebuiltBase = { ...base, rebuild: 1 };
  const oldBase = built(base, 'succeeded', digest('1'));
  const oldApp = built(app, 'succeeded', digest('2'), `${CAND}/kiln-base@${digest('1')}`);
  // While the base rebuilds, the app waits (its published image stays).
  const during = plan(state([app, rebuiltBase]), observed([oldBase, oldApp, built(rebuiltBase, 'queued')]), { now: NOW });
  assert.deepEqual(buildActions(during), []);
  assert.match(waitsOf(during).find((w) => w.startsWith('hello-image'))!, /AwaitingDependency: .*waits for its base image kiln-base/);

  const after = plan(state([app, rebuiltBase]), observed([oldBase, oldApp, built(rebuiltBase, 'succeeded', digest('3'))]), { now: NOW });
  const [a] = buildActions(after);
  assert.equal(a?.package, 'hello-image');
  assert.equal(a.inputs.recipe.oci?.from, `${CAND}/kiln-base@${digest('3')}`);
  assert.notEqual(a.key, oldApp.key);
  assert.equal(a.inputs.binNMU, undefined, 'an image gets no binNMU: its tags follow the build');

  const same = plan(state([app, rebuiltBase]), observed([oldBase, oldApp, built(rebuiltBase, 'succeeded', digest('1'))]), { now: NOW });
  assert.deepEqual(buildActions(same), [], 'a rebuilt base with the same digest leaves the app as it is');
});

test('plan layered - a failed base fails the app with the reason; a chain resolves level by level', () => {
  const failed = plan(state([app, base]), observed([built(base, 'failed')]), { now: NOW });
  assert.deepEqual(buildActions(failed), []);
  assert.match(waitsOf(failed).find((w) => w.startsWith('hello-image'))!, new RegExp(`^hello-image/amd64 ${WAIT_REASONS.dependencyFailed}: .*FROM kiln-base, but kiln-base failed to build`));

  const top = image('top', { from: { package: 'hello-image' } });
  const b = built(base, 'succeeded', digest('1'));
  const mid = built(app, 'succeeded', digest('2'), `${CAND}/kiln-base@${digest('1')}`);
  const [a] = buildActions(plan(state([top, app, base]), observed([b, mid]), { now: NOW }));
  assert.equal(a.inputs.recipe.oci?.from, `${CAND}/hello-image@${digest('2')}`);
});

test('plan layered - from: cycles are blocked with the files named (validation refuses them first)', () => {
  const x = image('x', { from: { package: 'y' } });
  const y = image('y', { from: { package: 'x' } });
  const p = plan(state([x, y]), observed([]), { now: NOW });
  assert.deepEqual(buildActions(p), []);
  assert.equal(waitsOf(p).length, 2);
  for (const w of waitsOf(p)) assert.match(w, /DependencyCycle: .*from: and in-repo dependencies form a cycle through packages\/x\.yaml, packages\/y\.yaml/);
});

test('plan layered - install: waits until the package is published in buildFrom and is keyed by its version', () => {
  const hello = desiredPackage('hello-kiln', { control: { ok: true, binaries: ['hello-kiln'], buildDepends: parseBuildDepends('Source: hello-kiln\n') } });
  const img = image('hello-image', { install: ['hello-kiln'], buildFrom: 'testing' });
  const before = plan(desiredState([img, hello]), observed([]), { now: NOW });
  assert.match(waitsOf(before).find((w) => w.startsWith('hello-image'))!, /AwaitingDependency: .*waits for hello-kiln: hello-kiln is not published in testing yet/);
  const release: ReleaseRecord = { distribution: 'testing', desiredCommit: 'd'.repeat(40), packages: [{ name: 'hello-kiln', version: '1.0-1', builds: { amd64: keyedInputs(hello, 'amd64').key } }] };
  const [a] = buildActions(plan(desiredState([img, hello]), observed([], release), { now: NOW })).filter((x) => x.package === 'hello-image');
  assert.deepEqual(a.inputs.builtAgainst, { 'hello-kiln': '1.0-1' });
  assert.deepEqual(a.inputs.recipe.oci?.install, ['hello-kiln']);
  assert.equal(a.buildFrom, 'testing', 'the job carries the apt source to fetch from');
});

test('plan layered - the incremental plan (PlanMemo) sees a new base digest, and equals a full plan', () => {
  const memo = emptyPlanMemo();
  const opts = { now: NOW, queueGraceMs: 60_000 };
  const b1 = built(base, 'succeeded', digest('1'));
  const a1 = built(app, 'succeeded', digest('2'), `${CAND}/kiln-base@${digest('1')}`);
  const first = [state([app, base]), observed([b1, a1])] as const;
  assert.deepEqual(buildActions(plan(...first, opts, memo)), []);
  const rebuilt = { ...base, rebuild: 1 };
  const second = [state([app, rebuilt]), observed([b1, a1, built(rebuilt, 'succeeded', digest('4'))])] as const;
  const next = plan(...second, opts, memo);
  assert.deepEqual(buildActions(next).map((x) => x.inputs.recipe.oci?.from), [`${CAND}/kiln-base@${digest('4')}`]);
  assert.deepEqual(next, plan(...second, opts));
});

test('plan layered - from: HOST/REPO:TAG is built FROM the digest observed for the tag; a moved tag rebuilds; an unresolved tag waits and wakes the next pass', () => {
  const seeded = image('kiln-base', { from: { tag: `${CAND}/kiln/bookworm-buildd:latest` } });
  const withTag = (d: { digest: string } | { error: string; retryAt: string }) => {
    const o = observed([]);
    o.imageTags = new Map([[`${CAND}/kiln/bookworm-buildd:latest`, d]]);
    return o;
  };
  const [a1] = buildActions(plan(state([seeded]), withTag({ digest: digest('5') }), { now: NOW }));
  assert.equal(a1.inputs.recipe.oci?.from, `${CAND}/kiln/bookworm-buildd@${digest('5')}`);
  const [a2] = buildActions(plan(state([seeded]), withTag({ digest: digest('6') }), { now: NOW }));
  assert.notEqual(a2.key, a1.key, 'a moved tag is a new build input');

  const retryAt = new Date(NOW.getTime() + 5000).toISOString();
  const waiting = plan(state([seeded]), withTag({ error: 'the registry has no such tag', retryAt }), { now: NOW });
  assert.deepEqual(buildActions(waiting), []);
  const w = waiting.waiting.find((x) => x.subject.startsWith('build kiln-base/'));
  assert.equal(w?.reason, WAIT_REASONS.awaitingDependency);
  assert.match(w!.message, /waits for its base image 127\.0\.0\.1:5000\/kiln\/bookworm-buildd:latest: the registry has no such tag/);
  assert.equal(w!.until, retryAt);
});

test('plan layered - property: the incremental plan equals a full plan over random base rebuilds, from: edits, tag moves and build outcomes', (t) => {
  const { random } = seededRandom(t);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const TAG = `${CAND}/kiln/bookworm-buildd:latest`;
  const froms: Array<OciPackage['from']> = [undefined, { package: 'kiln-base' }, { package: 'mid' }, { tag: TAG }, { image: `${CAND}/x@${digest('9')}` }];
  for (let run = 0; run < 20; run++) {
    const memo = emptyPlanMemo();
    let pkgs = new Map<string, OciPackage>([
      ['kiln-base', image('kiln-base')],
      ['mid', image('mid', { from: { package: 'kiln-base' } })],
      ['hello-image', image('hello-image', { from: { package: 'mid' } })],
    ]);
    let obs = observed([]);
    let n = 0;
    const config = state([]).config;
    for (let step = 0; step < 25; step++) {
      const op = random();
      const name = pick([...pkgs.keys()]);
      if (op < 0.25) pkgs = new Map(pkgs).set(name, { ...pkgs.get(name)!, rebuild: pkgs.get(name)!.rebuild + 1 });
      else if (op < 0.35 && name !== 'kiln-base') {
        // No cycles: only bases earlier in the chain (or none, a tag, a digest).
        const from = pick(froms.filter((f) => !(f && 'package' in f) || (name === 'hello-image' ? true : f.package === 'kiln-base')));
        pkgs = new Map(pkgs).set(name, { ...pkgs.get(name)!, from });
      } else if (op < 0.45) {
        obs = { ...obs, imageTags: new Map([[TAG, random() < 0.7 ? { digest: digest(String(Math.floor(random() * 9))) } : { error: 'registry down', retryAt: NOW.toISOString() }]]) };
      }
      // One config object throughout, as a pass that did not touch kiln.yaml has (else the memo starts afresh).
      const desired = { ...state([...pkgs.values()]), config };
      const opts = { now: NOW, queueGraceMs: 60_000 };
      const full = plan(desired, obs, opts);
      assert.deepEqual(plan(desired, obs, opts, memo), full, `run ${run} step ${step}`);
      // Outcomes for some builds the plan asked for: each success pushes an image with a new digest.
      const builds = new Map(obs.builds);
      for (const a of buildActions(full)) {
        if (random() < 0.3) continue;
        const outcome = pick(['succeeded', 'succeeded', 'failed', 'queued'] as const);
        const rec = built(pkgs.get(a.package)!, outcome, outcome === 'succeeded' ? digest(((n++ % 15) + 1).toString(16)) : undefined, a.inputs.recipe.oci?.from);
        builds.set(a.key, { ...rec, key: a.key, inputs: a.inputs });
      }
      obs = { ...obs, builds };
    }
  }
});
