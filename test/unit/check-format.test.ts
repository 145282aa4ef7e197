import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CheckReport } from '../../reconciler/check/check-revision.ts';
import { checkSummary, formatCheckMarkdown } from '../../reconciler/check/format-check.ts';
import { diffPlans } from '../../reconciler/check/plan-diff.ts';
import type { Action, Plan } from '../../reconciler/model.ts';

const publish = (pkg: string, version: string): Action => ({ kind: 'publish', reason: 'NotPublished', message: `publish ${pkg}`, distribution: 'testing', package: pkg, version, builds: {} });
const prune = (pkg: string, version: string): Action => ({ kind: 'prune', reason: 'RemovedFromDesiredState', message: `prune ${pkg}`, distribution: 'testing', package: pkg, version });
const planOf = (desiredCommit: string, actions: Action[]): Plan => ({ desiredCommit, actions, waiting: [] });

test('check diff - same work under another desired commit is no change; new work is added, vanished work dropped', () => {
  const base = planOf('a'.repeat(40), [publish('hello', '1.0-1'), publish('old', '0.9-1')]);
  const rev = planOf('b'.repeat(40), [publish('hello', '1.0-1'), prune('gone', '2.0-1')]);
  const d = diffPlans(base, rev);
  assert.deepEqual(d.added.map((a) => a.kind + ' ' + ('package' in a ? a.package : '')), ['prune gone']);
  assert.deepEqual(d.dropped.map((a) => ('package' in a ? a.package : '')), ['old']);
});

test('check markdown - table rows and details; hostile names cannot break the table or the <details>', () => {
  const report: CheckReport = {
    ok: true,
    rev: 'b'.repeat(40),
    base: 'a'.repeat(40),
    mergeBase: 'a'.repeat(40),
    trust: { trusted: true, commit: 'b'.repeat(40), reason: 'signed by Alice <alice@example.org> (F00)' },
    validation: { ok: true, packages: 2, distributions: 1, diagnostics: [] },
    baseProblems: [],
    diff: { added: [publish('x|</details><script>', '1.0-1')], dropped: [], waiting: [] },
  };
  const md = formatCheckMarkdown(report, 'main');
  assert.match(md, /^### ✅ Kiln check passed: trusted and valid: 1 to publish$/m);
  assert.match(md, /\| 📦 \| publish \| x\\\|&lt;\/details&gt;&lt;script&gt; \| 1\.0-1 \| testing \| NotPublished \|/);
  // Outside the fenced text report (CommonMark keeps a fence's content literal), exactly one </details>.
  const outside = md.replace(/```text\n[\s\S]*?\n```/, '');
  assert.equal(outside.match(/<\/details>/g)?.length, 1);
  assert.equal(md.split('```').length, 3, 'no fence inside the fence');
  assert.equal(checkSummary({ ...report, ok: false, trust: { ...report.trust, trusted: false, reason: 'unsigned' } }), 'refused: unsigned');
});
