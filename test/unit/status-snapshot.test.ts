import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BuildRecord } from '../../schema/status.ts';
import { buildRecordFile, checkRecordFile } from '../../reconciler/status/records.ts';
import { applyChanges, emptySnapshot, parseChanges } from '../../reconciler/status/snapshot.ts';

function build(n: number, state: BuildRecord['state'] = 'queued'): BuildRecord {
  return {
    key: n.toString(16).padStart(64, '0'),
    inputs: { package: 'p', version: '1', source: { url: 'u', commit: 'c' }, recipe: { format: 'deb', rebuild: 0 }, image: 'i', arch: 'amd64', target: 't' },
    pool: 'default',
    state,
    attempts: [],
    desiredCommit: 'd',
  };
}

test('status snapshot - applying changes adds records and never mutates the previous snapshot', () => {
  const s0 = emptySnapshot();
  const s1 = applyChanges(s0, parseChanges(new Map([buildRecordFile(build(1)), buildRecordFile(build(2))])), { commit: 'c1', desiredCommit: 'd1' });
  assert.equal(s0.state.builds.size, 0);
  assert.equal(s1.state.builds.size, 2);
  assert.equal(s1.state.statusCommit, 'c1');
  assert.equal(s1.state.desiredCommit, 'd1');

  const [path2] = buildRecordFile(build(2));
  const s2 = applyChanges(s1, parseChanges(new Map([[path2, null], buildRecordFile(build(1, 'succeeded'))])), { commit: 'c2' });
  assert.equal(s1.state.builds.size, 2, 'previous snapshot intact');
  assert.equal(s1.state.builds.get(build(1).key)!.state, 'queued');
  assert.deepEqual([...s2.state.builds.keys()], [build(1).key]);
  assert.equal(s2.state.builds.get(build(1).key)!.state, 'succeeded');
  assert.ok(!s2.index.has(path2));
});

test('status snapshot - untouched kinds share their maps (no copy of 10k builds for one check)', () => {
  const s1 = applyChanges(emptySnapshot(), parseChanges(new Map([buildRecordFile(build(1))])), { commit: 'c1' });
  const s2 = applyChanges(s1, parseChanges(new Map([checkRecordFile({ commit: 'e'.repeat(40), verdict: 'trusted', at: '2026-01-01T00:00:00Z' })])), { commit: 'c2' });
  assert.equal(s2.state.builds, s1.state.builds);
  assert.notEqual(s2.state.checks, s1.state.checks);
  assert.equal(s2.state.checks.size, 1);
});

test('status snapshot - a corrupt file becomes a problem, drops its old record, and clears when fixed', () => {
  const [path, text] = buildRecordFile(build(1));
  const s1 = applyChanges(emptySnapshot(), parseChanges(new Map([[path, text]])), { commit: 'c1' });
  const s2 = applyChanges(s1, parseChanges(new Map([[path, 'key: [']])), { commit: 'c2' });
  assert.equal(s2.state.builds.size, 0);
  assert.equal(s2.problems.get(path)?.path, path);
  const s3 = applyChanges(s2, parseChanges(new Map([[path, text]])), { commit: 'c3' });
  assert.equal(s3.state.builds.size, 1);
  assert.equal(s3.problems.size, 0);
});

test('status snapshot - files outside the record directories are ignored', () => {
  const parsed = parseChanges(new Map([['signatures/abc.asc', 'sig'], ['notes.txt', 'x']]));
  assert.equal(parsed.size, 0);
});
