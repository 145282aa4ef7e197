// The soak's plan is a pure function of its seed (so a printed seed replays a
// run), adds every build once, and never takes a second nats-server node down.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { chaosWindowMs, soakSchedule, type SoakEvent } from '../../scripts/soak-parts/schedule.ts';
import { buildMs } from '../../scripts/soak-parts/stub-deb-runner.ts';
import { checkRecords, checkResults, type JournalLine } from '../../scripts/soak-parts/invariants.ts';
import type { BuildRecord } from '../../schema/status.ts';

const shape = { seed: 42, durationMs: 600_000, builds: 120, agents: 3, nodes: 3 };

test('soak schedule - the same seed gives the same run; another seed another one', () => {
  assert.deepEqual(soakSchedule(shape), soakSchedule({ ...shape }));
  assert.notDeepEqual(soakSchedule(shape), soakSchedule({ ...shape, seed: 43 }));
  assert.equal(buildMs(42, 'k', 300, 3000), buildMs(42, 'k', 300, 3000));
  for (const k of ['a', 'b', 'c']) assert.ok(buildMs(1, k, 300, 3000) >= 300 && buildMs(1, k, 300, 3000) <= 3000);
});

test('soak schedule - every build is added once, faults of every kind fall inside the chaos window, one nats node down at a time', () => {
  for (const seed of [1, 2, 3, 1389124143]) {
    const events = soakSchedule({ ...shape, seed });
    const added = events.flatMap((e) => (e.kind === 'add-builds' ? e.packages : []));
    assert.equal(added.length, shape.builds);
    assert.equal(new Set(added).size, shape.builds);
    const faults = events.filter((e) => e.kind !== 'add-builds');
    assert.ok(faults.every((e) => e.at < chaosWindowMs(shape.durationMs)));
    assert.deepEqual(new Set(faults.map((e) => e.kind)), new Set(['kill-agent', 'kill-reconciler', 'kill-nats']), `seed ${seed}: every kind of fault`);
    const nats = faults.filter((e): e is Extract<SoakEvent, { kind: 'kill-nats' }> => e.kind === 'kill-nats');
    for (let i = 1; i < nats.length; i++) assert.ok(nats[i].at > nats[i - 1].at + nats[i - 1].restartAfterMs, `seed ${seed}: node ${i} goes down after node ${i - 1} is back`);
  }
});

const record = (pkg: string, over: Partial<BuildRecord> = {}): BuildRecord =>
  ({ key: pkg.padEnd(64, '0'), inputs: { package: pkg, version: '1.0' }, pool: 'deb', desiredCommit: 'c', state: 'succeeded', attempts: [{ n: 1, dispatchedAt: '', outcome: 'succeeded' }], ...over }) as unknown as BuildRecord;

test('soak invariants - a missing, doubled or unfinished record fails; a stored result missing from kiln/status fails', () => {
  const ok = checkRecords(['a', 'b'], [record('a'), record('b')], ['builds/a.yaml', 'builds/b.yaml']);
  assert.equal(ok.ok, true, ok.detail);
  assert.match(checkRecords(['a', 'b'], [record('a')], ['builds/a.yaml']).detail, /b: 0 records/);
  assert.match(checkRecords(['a'], [record('a'), record('a', { key: 'f'.repeat(64) })], ['x', 'y']).detail, /a: 2 records/);
  assert.match(checkRecords(['a'], [record('a', { state: 'queued' })], ['x']).detail, /not final/);

  const recs = new Map([[record('a').key, record('a')]]);
  const line = (key: string, attempt: number, outcome = 'succeeded'): JournalLine => ({ kind: 'result', agent: 'x', key, attempt, outcome, duplicate: false, at: 0 });
  assert.equal(checkResults([line(record('a').key, 1)], recs, 0).ok, true);
  assert.match(checkResults([line(record('a').key, 2)], recs, 0).detail, /attempt 2: stored by x, not on kiln\/status/);
  assert.match(checkResults([line(record('a').key, 1, 'failed')], recs, 0).detail, /failed stored, succeeded recorded/);
  assert.match(checkResults([], recs, 3).detail, /3 result\(s\) still in the stream/);
});
