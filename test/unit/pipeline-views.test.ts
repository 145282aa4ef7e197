import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatAgents, type AgentRow } from '../../reconciler/pipeline/agent-registry.ts';
import { buildRows, findByPrefix, formatBuilds } from '../../reconciler/pipeline/build-list.ts';
import { dependencyWaitRows, formatWaits } from '../../reconciler/pipeline/dependency-waits-view.ts';
import { buildCounts, formatPassLine } from '../../reconciler/pipeline/progress.ts';
import { emptyObserved } from '../../reconciler/model.ts';
import type { BuildRecord } from '../../schema/status.ts';

const rec = (key: string, pkg: string, state: BuildRecord['state'], over: Partial<BuildRecord> = {}): BuildRecord => ({
  key: key.padEnd(64, '0'),
  inputs: { package: pkg, version: '1.0', source: { url: '/s', commit: 'c'.repeat(40) }, recipe: { format: 'deb', rebuild: 0 }, image: 'i', arch: 'amd64', target: 't' },
  pool: 'deb',
  desiredCommit: 'd'.repeat(40),
  state,
  attempts: [{ n: 1, dispatchedAt: '2026-01-01T00:00:00Z', agent: 'a1' }],
  ...over,
});

test('pipeline views - builds are listed sorted, failed ones with class and reason', () => {
  const rows = buildRows([
    rec('bb', 'zeta', 'succeeded', { artifacts: [{ name: 'zeta.deb', sha256: 'e'.repeat(64), size: 1 }] }),
    rec('aa', 'alpha', 'failed', { failure: { class: 'build', reason: 'exit 2', retryable: false } }),
    rec('cc', 'mid', 'failed', { failure: { class: 'infra', reason: 'docker died', retryable: true }, retryAt: '2026-01-01T00:05:00Z' }),
  ]);
  assert.deepEqual(rows.map((r) => r.package), ['alpha', 'mid', 'zeta']);
  assert.deepEqual(rows[2].artifacts, ['zeta.deb']);
  const text = formatBuilds(rows);
  assert.match(text, /aa0000000000 {2}alpha 1\.0 amd64 {2}failed \(attempt 1 on a1\)\n {6}build: exit 2/);
  assert.match(text, /mid 1\.0 amd64 {2}failed, retry at 2026-01-01T00:05:00Z/);
  assert.match(text, /3 build\(s\): 1 succeeded, 0 queued\/running, 2 failed$/);
  assert.equal(formatBuilds([]), 'no builds recorded on kiln/status');
});

test('pipeline views - a key prefix names exactly one build, or says why not', () => {
  const all = [rec('abcd1', 'a', 'queued'), rec('abcd2', 'b', 'queued'), rec('ef01', 'c', 'queued')];
  assert.equal(findByPrefix(all, 'ABCD1').inputs.package, 'a', 'case-insensitive');
  assert.throws(() => findByPrefix(all, 'abcd'), { code: 'KILN_USAGE', message: /ambiguous/ });
  assert.throws(() => findByPrefix(all, '9999'), { code: 'KILN_NOT_FOUND' });
  assert.throws(() => findByPrefix(all, 'ab'), { code: 'KILN_USAGE', message: /at least 4 hex/ });
  assert.throws(() => findByPrefix(all, '../x'), { code: 'KILN_USAGE' });
});

test('pipeline views - pass progress line and build counts', () => {
  const observed = emptyObserved();
  observed.builds.set('q', rec('q', 'q', 'queued'));
  observed.builds.set('s', rec('s', 's', 'succeeded'));
  observed.builds.set('f', rec('f', 'f', 'failed', { failure: { class: 'build', reason: 'x', retryable: false } }));
  observed.builds.set('r', rec('r', 'r', 'failed', { failure: { class: 'infra', reason: 'x', retryable: true } }));
  const counts = buildCounts(observed);
  assert.deepEqual(counts, { queued: 1, succeeded: 1, failed: 1, retrying: 1 });
  const base = { n: 2, reason: 'new commit', noop: false, desiredCommit: 'a'.repeat(40), statusCommit: 'b'.repeat(40), dispatched: 3, duplicates: 1, results: 2, published: ['stable'], ms: 42 };
  assert.equal(
    formatPassLine(base, counts),
    'pass 2 (new commit) desired aaaaaaaaaaaa: dispatched 3, 1 already queued, collected 2 result(s), published stable, status bbbbbbbbbbbb; builds: 1 queued/running, 1 done, 1 failed, 1 retrying (42 ms)',
  );
  assert.equal(
    formatPassLine({ ...base, noop: true }, { queued: 0, succeeded: 4, failed: 0, retrying: 0 }),
    'pass 2 (new commit) desired aaaaaaaaaaaa: nothing to do; builds: 0 queued/running, 4 done, 0 failed (42 ms)',
  );
});

test('pipeline views - agents table', () => {
  const a: AgentRow = { id: 'h1-deb-amd64-1', pool: 'deb', arch: 'amd64', host: 'h1', concurrency: 2, running: ['f'.repeat(64)], draining: false, startedAt: 'x', lastSeen: 'y', drainRequested: true, ageSeconds: 3 };
  assert.equal(formatAgents([a]), `h1-deb-amd64-1  pool deb/amd64  drain requested  running ffffffffffff (1/2)  last seen 3s ago  on h1`);
  assert.equal(formatAgents([]), 'no agents connected');
});

test('kiln builds - builds held back by in-repo Build-Depends are listed with their reason; other waits are not', () => {
  const rows = dependencyWaitRows([
    { subject: 'build kilnhello/amd64 0123456789ab', reason: 'AwaitingDependency', message: 'kilnhello 1.0 (amd64) waits for libkilnhello-dev (>= 1.1): libkilnhello is not published in testing yet' },
    { subject: 'build ca/arm64 0123456789ab', reason: 'DependencyCycle', message: 'cycle' },
    { subject: 'build hello/amd64 0123456789ab', reason: 'Building', message: 'queued' },
    { subject: 'release testing: hello 1.0', reason: 'AwaitingBuild', message: 'waits for its builds' },
  ]);
  assert.deepEqual(rows.map((r) => `${r.package} ${r.arch} ${r.reason}`), ['kilnhello amd64 AwaitingDependency', 'ca arm64 DependencyCycle']);
  assert.match(formatWaits(rows), /Not dispatched \(in-repo Build-Depends\):\n  …  kilnhello amd64  AwaitingDependency\n      kilnhello 1\.0 \(amd64\) waits for libkilnhello-dev \(>= 1\.1\)/);
  assert.equal(formatWaits([]), '');
});
