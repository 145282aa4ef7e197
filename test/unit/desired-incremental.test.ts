// The incremental read (reconciler/desired/read-desired.ts assemble with the previous
// snapshot and its rule memo) against a full one: after random edit sequences of packages,
// distributions and kiln.yaml (reverts and renames included; valid and invalid states),
// diagnostics and desired state equal those of reading every file afresh.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { assemble, type DesiredSnapshot, type FileEntry } from '../../reconciler/desired/read-desired.ts';
import { configText, distributionText, DISTS, entry, initialTexts, packageText, SOURCE, type Gen, type Pick } from '../fixtures/metadata-texts.ts';
import { emptyRuleMemo } from '../../reconciler/desired/rules.ts';
import { desiredChangesSince } from '../../reconciler/desired/state-changes.ts';
import { seededRandom } from '../helpers/seeded.ts';
import { withPlainPackages } from '../fixtures/plan-state.ts';

test('desired incremental - assemble with the previous snapshot equals a full read after random edits', (t) => {
  const { random, seed } = seededRandom(t);
  const pick: Pick = (xs) => xs[Math.floor(random() * xs.length)];
  for (let run = 0; run < 8; run++) {
    // Half the runs stay mostly valid (the reuse paths), half are often invalid (the error paths).
    const badness = run % 2 === 0 ? 0.005 : 0.05;
    const g: Gen = { pick, either: (good, bad) => (random() < badness ? pick(bad) : pick(good)) };
    const texts = initialTexts(g);
    const history = new Map<string, string[]>();
    let files = new Map([...texts].map(([p, x]) => [p, entry(p, x)]));
    let prev: DesiredSnapshot | undefined;
    let valid = 0;
    let patched = 0;
    for (let step = 0; step < 60; step++) {
      // The commit: a few random edits; changed paths get new entries, the rest keep theirs.
      const changed = new Set<string>();
      for (let k = 0, n = 1 + Math.floor(random() * 3); k < n; k++) {
        const op = random();
        const pkgs = [...texts.keys()].filter((p) => p.startsWith('packages/'));
        const path = pick(pkgs);
        const set = (p: string, x: string) => {
          history.set(p, [...(history.get(p) ?? []), texts.get(p) ?? '']);
          texts.set(p, x);
          changed.add(p);
        };
        if (op < 0.3) set(path, packageText(path.slice(9, -5), g));
        else if (op < 0.42 && history.get(path)?.length) set(path, pick(history.get(path)!.filter(Boolean).concat(texts.get(path)!))); // revert
        else if (op < 0.52) {
          // rename: the package renamed with its file, or (an error) the file alone
          const to = `packages/${pick(['r', 'p'])}${Math.floor(random() * 40)}.yaml`;
          if (!texts.has(to)) {
            const text = texts.get(path)!;
            set(to, g.either([text.replace(/^name: .*$/m, `name: ${to.slice(9, -5)}`)], [text]));
            texts.delete(path);
            changed.add(path);
          }
        } else if (op < 0.58) {
          texts.delete(path);
          changed.add(path);
        } else if (op < 0.85) {
          const d = pick(DISTS);
          if (random() < badness * 4 && texts.has(`distributions/${d}.yaml`)) {
            texts.delete(`distributions/${d}.yaml`);
            changed.add(`distributions/${d}.yaml`);
          } else set(`distributions/${d}.yaml`, distributionText(d, g));
        } else if (op < 0.95) set('kiln.yaml', random() < 0.3 && history.get('kiln.yaml')?.length ? pick(history.get('kiln.yaml')!) : configText(g));
        else set(`packages/n${step}.yaml`, packageText(`n${step}`, g));
      }
      // The table's order is the reader's: the tree diff applied to the last snapshot's table (a path
      // deleted and added back since that snapshot is a modification there and keeps its place).
      const order = [...(prev ? prev.files.keys() : files.keys())].filter((p) => texts.has(p));
      const placed = new Set(order);
      for (const p of texts.keys()) if (!placed.has(p)) order.push(p);
      const next = new Map<string, FileEntry>();
      for (const p of order) next.set(p, changed.has(p) || !files.has(p) ? entry(p, texts.get(p)!) : files.get(p)!);
      // A refresh of source refs: every package entry copied with an equal source, now and then a moved one.
      if (random() < 0.2) {
        for (const [p, e] of next) {
          if (e.kind === 'package') next.set(p, { ...e, source: random() < 0.05 ? { ...SOURCE, commit: pick(['d', 'e']).repeat(40) } : { ...SOURCE } });
        }
      }
      files = next;
      const commit = `commit-${run}-${step}`;
      // Incremental: from the last valid snapshot (what a pass keeps) with its rule memo.
      const rules = prev?.rules ?? emptyRuleMemo();
      // What the reader hands over: the paths whose entries differ from prev's (deleted first, then in `files` order).
      const changedPaths = prev ? [...[...prev.files.keys()].filter((p) => !files.has(p)), ...[...files.keys()].filter((p) => files.get(p) !== prev!.files.get(p))] : undefined;
      const inc = assemble(commit, files, prev, rules, changedPaths);
      const full = assemble(commit, new Map([...files.keys()].map((p) => [p, { ...entry(p, texts.get(p)!), ...(files.get(p)!.source ? { source: { ...files.get(p)!.source! } } : {}) }])));
      const at = `seed ${seed} run ${run} step ${step}`;
      assert.deepEqual(inc.diagnostics, full.diagnostics, `${at}: diagnostics`);
      assert.deepEqual(withPlainPackages(inc.state), withPlainPackages(full.state), `${at}: state`);
      // The same order too (the planner lists waits in it), and any recorded change names exactly the packages that differ.
      assert.deepEqual([...(inc.state?.packages.keys() ?? [])], [...(full.state?.packages.keys() ?? [])], `${at}: package order`);
      const hint = prev && inc.state ? desiredChangesSince(prev.state, inc.state) : undefined;
      if (hint && prev && inc.state) {
        patched++;
        const differ = new Set([...prev.state.packages.keys(), ...inc.state.packages.keys()].filter((n) => prev!.state.packages.get(n) !== inc.state!.packages.get(n)));
        assert.deepEqual([...hint.packages].sort(), [...differ].sort(), `${at}: recorded changes`);
        const kept = [...inc.state.packages.keys()].filter((n) => !hint.appended.includes(n));
        assert.deepEqual([...inc.state.packages.keys()], [...kept, ...hint.appended], `${at}: appended names last`);
        assert.deepEqual(kept, [...prev.state.packages.keys()].filter((n) => inc.state!.packages.has(n) && !hint.appended.includes(n)), `${at}: the others in their places`);
        assert.equal(inc.state.distributions, prev.state.distributions, `${at}: distributions kept`);
        assert.equal(inc.state.config, prev.state.config, `${at}: config kept`);
      }
      if (inc.state) {
        valid++;
        prev = { dir: '/repo', commit, files, state: inc.state, warnings: inc.diagnostics, rules, ruleContext: inc.ruleContext };
      }
    }
    t.diagnostic(`run ${run}: ${valid} of 60 commits valid, ${patched} assembled by patching the previous state`);
  }
});

test('desired incremental - package rule results are reused only under the same kiln.yaml, distributions and unparsed files', () => {
  const g: Gen = { pick: (xs) => xs[0], either: (good) => good[0] };
  const pkg = entry('packages/aa.yaml', 'name: aa\nversion: 1.0-1\nsource:\n  git: /srv/src\n  ref: main\nformat: deb\narchitectures: [amd64, arm64]\nrelease: [testing]\n');
  const config = entry('kiln.yaml', configText(g));
  const wide = entry('distributions/testing.yaml', distributionText('testing', g));
  const narrow = entry('distributions/testing.yaml', 'name: testing\nformat: apt\nsuite: testing\narchitectures: [amd64]\n');
  const rules = emptyRuleMemo();
  const files = (...es: FileEntry[]) => new Map(es.map((e) => [e.path, e]));
  assert.deepEqual(assemble('c1', files(config, pkg, wide), undefined, rules).diagnostics, []);
  // Same package document, a kiln.yaml whose only pool lacks arm64: the package's rules run again.
  const amd64Only = entry('kiln.yaml', 'trust:\n  requireSignedCommits: false\npools:\n  deb:\n    architectures: [amd64]\ndefaults:\n  pool: deb\n');
  const poolNarrowed = assemble('c2', files(amd64Only, pkg, wide), undefined, rules);
  assert.match(poolNarrowed.diagnostics.map((d) => d.message).join('\n'), /architectures arm64 cannot be built: pool 'deb'/);
  assert.deepEqual(assemble('c3', files(config, pkg, wide), undefined, rules).diagnostics, []);
  // Another distribution document.
  const narrowed = assemble('c4', files(config, pkg, narrow), undefined, rules);
  assert.match(narrowed.diagnostics.map((d) => d.message).join('\n'), /architectures arm64 of package 'aa' are not in distribution 'testing'/);
  // The distribution deleted, then present but unparsed: named in release:, reported missing only in the first case.
  const missing = assemble('c5', files(config, pkg), undefined, rules);
  assert.match(missing.diagnostics.map((d) => d.message).join('\n'), /no distribution named 'testing'/);
  const broken = entry('distributions/testing.yaml', 'name: [\n');
  const unparsed = assemble('c6', files(config, pkg, broken), undefined, rules);
  assert.doesNotMatch(unparsed.diagnostics.map((d) => d.message).join('\n'), /no distribution named 'testing'/);
  assert.deepEqual(assemble('c7', files(config, pkg, wide), undefined, rules).diagnostics, []);
});

test('desired incremental - a refresh that resolves a source to the same commit keeps the package object (its plan fragment stays valid)', () => {
  const g: Gen = { pick: (xs) => xs[0], either: (good) => good[0] };
  const files = new Map([['kiln.yaml', entry('kiln.yaml', configText(g))], ['packages/aa.yaml', entry('packages/aa.yaml', packageText('aa', g))]]);
  const rules = emptyRuleMemo();
  const first = assemble('c1', files, undefined, rules);
  assert.ok(first.state);
  const prev: DesiredSnapshot = { dir: '/repo', commit: 'c1', files, state: first.state, warnings: first.diagnostics, rules };
  const refreshed = new Map(files).set('packages/aa.yaml', { ...files.get('packages/aa.yaml')!, source: { ...SOURCE } });
  assert.equal(assemble('c1', refreshed, prev, rules).state?.packages.get('aa'), first.state.packages.get('aa'));
  const moved = new Map(files).set('packages/aa.yaml', { ...files.get('packages/aa.yaml')!, source: { ...SOURCE, commit: 'd'.repeat(40) } });
  assert.equal(assemble('c1', moved, prev, rules).state?.packages.get('aa')?.source.commit, 'd'.repeat(40));
});
