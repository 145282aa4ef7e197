// The incremental pipeline of a pass against its specification: metadata assembled by
// patching the previous snapshot (with the changed packages it records) and planned by
// patching the last plan's parts, versus every file read afresh and plan() without a memo.
// Random edit sequences: package edits, reverts, renames (with the file and inside it),
// removals and additions, distribution and kiln.yaml edits; and observed changes: build
// outcomes (succeeded, failed, retryable, queued), releases published, the clock moving.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assemble, type DesiredSnapshot, type FileEntry } from '../../reconciler/desired/read-desired.ts';
import { emptyRuleMemo } from '../../reconciler/desired/rules.ts';
import { desiredChangesSince } from '../../reconciler/desired/state-changes.ts';
import { emptyObserved, type ObservedState, type Plan } from '../../reconciler/model.ts';
import { emptyPlanMemo, plan } from '../../reconciler/plan/plan.ts';
import type { ReleaseRecord } from '../../schema/status.ts';
import { recordOf, withPlainPackages } from '../fixtures/plan-state.ts';
import { configText, distributionText, DISTS, entry, initialTexts, packageText, type Gen, type Pick } from '../fixtures/metadata-texts.ts';
import { seededRandom } from '../helpers/seeded.ts';

/** A few random edits to the texts; returns the paths touched. */
function edit(texts: Map<string, string>, history: Map<string, string[]>, g: Gen, random: () => number, step: number): Set<string> {
  const { pick } = g;
  const changed = new Set<string>();
  const set = (p: string, x: string) => {
    history.set(p, [...(history.get(p) ?? []), texts.get(p) ?? '']);
    texts.set(p, x);
    changed.add(p);
  };
  for (let k = 0, n = 1 + Math.floor(random() * 3); k < n; k++) {
    const op = random();
    const path = pick([...texts.keys()].filter((p) => p.startsWith('packages/')));
    const name = path.slice(9, -5);
    if (op < 0.35) set(path, packageText(name, g));
    else if (op < 0.5 && history.get(path)?.some(Boolean)) set(path, pick(history.get(path)!.filter(Boolean))); // revert
    else if (op < 0.58) {
      const to = `packages/r${Math.floor(random() * 40)}.yaml`;
      if (!texts.has(to)) {
        set(to, texts.get(path)!.replace(/^name: .*$/m, `name: ${to.slice(9, -5)}`)); // renamed with its file
        texts.delete(path);
        changed.add(path);
      }
    } else if (op < 0.62) set(path, texts.get(path)!.replace(/^name: .*$/m, `name: ${name}x`)); // renamed inside: an error until the file follows
    else if (op < 0.68) {
      texts.delete(path);
      changed.add(path);
    } else if (op < 0.76) set(`packages/n${step}x${k}.yaml`, packageText(`n${step}x${k}`, g));
    else if (op < 0.9) {
      const dist = pick(DISTS.slice(0, 2));
      set(`distributions/${dist}.yaml`, distributionText(dist, g));
    }
    else set('kiln.yaml', random() < 0.3 && history.get('kiln.yaml')?.length ? pick(history.get('kiln.yaml')!) : configText(g));
  }
  return changed;
}

/** Outcomes for some of the builds the plan asks for, and sometimes a release of what it would publish. */
function observe(observed: ObservedState, full: Plan, commit: string, now: number, random: () => number, pick: Pick): ObservedState {
  const builds = new Map(observed.builds);
  for (const a of full.actions) {
    if (a.kind !== 'build' || random() < 0.3) continue;
    builds.set(a.key, recordOf(a, pick(['succeeded', 'succeeded', 'succeeded', 'failed', 'failed-retryable', 'queued'] as const), now, commit));
  }
  let releases = observed.releases;
  for (const dist of ['testing', 'stable']) {
    if (random() > 0.3) continue;
    const publishes = full.actions.filter((a) => a.kind === 'publish' && a.distribution === dist);
    const prunes = full.actions.filter((a) => a.kind === 'prune' && a.distribution === dist);
    const prev = releases.get(dist)?.packages ?? [];
    const record: ReleaseRecord = {
      distribution: dist,
      desiredCommit: commit,
      packages: [
        ...prev.filter((p) => !publishes.some((a) => a.kind === 'publish' && a.package === p.name) && !prunes.some((a) => a.kind === 'prune' && a.package === p.name && a.version === p.version)),
        ...publishes.flatMap((a) => (a.kind === 'publish' ? [{ name: a.package, version: a.version, builds: a.builds }] : [])),
      ],
    };
    releases = new Map(releases).set(dist, record);
  }
  return builds === observed.builds && releases === observed.releases ? observed : { ...observed, builds, releases };
}

test('plan patch - incremental read and patched plan equal a full read and plan() after random edit sequences', (t) => {
  const { random, seed } = seededRandom(t);
  const pick: Pick = (xs) => xs[Math.floor(random() * xs.length)];
  let patchedPlans = 0;
  for (let run = 0; run < 6; run++) {
    const badness = run % 3 === 2 ? 0.03 : 0.003;
    const g: Gen = { pick, either: (good, bad) => (random() < badness ? pick(bad) : pick(good)) };
    const texts = initialTexts(g);
    const history = new Map<string, string[]>();
    let files = new Map<string, FileEntry>();
    let prev: DesiredSnapshot | undefined;
    let observed = emptyObserved();
    let now = Date.parse('2026-11-21T12:00:00Z');
    const memo = emptyPlanMemo();
    for (let step = 0; step < 60; step++) {
      const changed = step === 0 ? new Set(texts.keys()) : edit(texts, history, g, random, step);
      const next = new Map<string, FileEntry>();
      for (const [p, x] of texts) next.set(p, changed.has(p) || !files.has(p) ? entry(p, x) : files.get(p)!);
      files = next;
      const commit = `commit-${run}-${step}`;
      const rules = prev?.rules ?? emptyRuleMemo();
      const changedPaths = prev ? [...[...prev.files.keys()].filter((p) => !files.has(p)), ...[...files.keys()].filter((p) => files.get(p) !== prev!.files.get(p))] : undefined;
      const inc = assemble(commit, files, prev, rules, changedPaths);
      const full = assemble(commit, new Map([...texts].map(([p, x]) => [p, entry(p, x)])));
      const at = `seed ${seed} run ${run} step ${step}`;
      assert.deepEqual(withPlainPackages(inc.state), withPlainPackages(full.state), `${at}: state`);
      if (!inc.state || !full.state) continue;
      if (prev && desiredChangesSince(prev.state, inc.state)) patchedPlans++;
      prev = { dir: '/repo', commit, files, state: inc.state, warnings: inc.diagnostics, rules, ruleContext: inc.ruleContext };

      now += pick([0, 0, 60_000, 3600_000, 12 * 3600_000]);
      const opts = { now: new Date(now) };
      // Observed changes between two plans of the same desired state, and with the next commit.
      for (let k = 0; k < 2; k++) {
        const spec = plan(full.state, observed, opts);
        assert.deepEqual(plan(inc.state, observed, opts, memo), spec, `${at} (${k})`);
        observed = observe(observed, spec, commit, now, random, pick);
      }
    }
  }
  t.diagnostic(`${patchedPlans} plans from a patched desired state`);
  assert.ok(patchedPlans > 0, 'some plans ran on recorded package changes');
});
