import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BuildRecord } from '../../schema/status.ts';
import { emptyObserved } from '../../reconciler/model.ts';
import { formatStatus, summarize } from '../../reconciler/status/summary.ts';

const D = 'd'.repeat(40);
function build(n: number, state: BuildRecord['state'], extra: Partial<BuildRecord> = {}): BuildRecord {
  return {
    key: n.toString(16).padStart(64, '0'),
    inputs: { package: n % 2 ? 'zeta' : 'alpha', version: `1.${n}`, source: { url: 'u', commit: 'c' }, recipe: { format: 'deb', rebuild: 0 }, image: 'i', arch: 'amd64', target: 's' },
    pool: 'default',
    state,
    attempts: [{ n: 1, dispatchedAt: '2026-01-01T00:00:00Z' }],
    desiredCommit: D,
    ...extra,
  };
}
const head = { commit: 'a'.repeat(40), summary: 'record 3 builds', date: '2026-01-01T00:00:00.000Z', signed: true };

test('status summary - counts builds by state and sorts failures by package, version, arch', () => {
  const state = emptyObserved();
  state.desiredCommit = D;
  for (const b of [build(1, 'failed', { failure: { class: 'infra', reason: 'agent lost', retryable: true }, retryAt: '2026-01-01T00:05:00Z' }), build(2, 'failed'), build(3, 'queued'), build(4, 'succeeded')]) state.builds.set(b.key, b);
  const s = summarize('kiln/status', head, state, []);
  assert.deepEqual(s.builds.byState, { queued: 1, succeeded: 1, failed: 2 });
  assert.deepEqual(s.builds.failed.map((b) => b.package), ['alpha', 'zeta']);
  const text = formatStatus(s);
  assert.match(text, /^On kiln\/status at aaaaaaaaaaaa \(2026-01-01T00:00:00.000Z, signed\): record 3 builds$/m);
  assert.match(text, /^Reconciled desired commit: dddddddddddd$/m);
  assert.match(text, /failed {2}zeta 1\.1 amd64 {2}infra: agent lost \(retry at 2026-01-01T00:05:00Z\)/);
  assert.match(text, /failed {2}alpha 1\.2 amd64 {2}\?: no reason recorded/);
  assert.match(text, /^Releases: none$/m);
  assert.doesNotMatch(text, /Gates:|Checks:|Unreadable/);
});

test('status summary - long lists are cut with a pointer to --json; problems are listed with their place', () => {
  const state = emptyObserved();
  for (let i = 0; i < 30; i++) {
    const b = build(i * 2, 'queued');
    state.builds.set(b.key, b);
  }
  const text = formatStatus(summarize('kiln/status', head, state, [{ path: 'builds/x.yaml', line: 3, message: '/state: must be equal to one of the allowed values' }]));
  assert.equal(text.split('\n').filter((l) => l.startsWith('  queued')).length, 20);
  assert.match(text, /… and 10 more \(--json lists all\)/);
  assert.match(text, /^ {2}builds\/x\.yaml:3: \/state: must be equal/m);
});

test('status summary - no branch yet', () => {
  assert.match(formatStatus(summarize('kiln/status', null, emptyObserved(), [])), /^No status branch \(kiln\/status\) yet/);
});
