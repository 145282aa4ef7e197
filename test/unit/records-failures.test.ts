import assert from 'node:assert/strict';
import { test } from 'node:test';
import { backoff, classifyFailure, describeFailure, isRetryable, RETRYABLE } from '../../reconciler/records/failures.ts';
import { FAILURE_CLASSES } from '../../schema/status.ts';

test('records failures - only infra failures are retryable', () => {
  assert.deepEqual(
    FAILURE_CLASSES.filter((c) => isRetryable(c)),
    ['infra'],
  );
  assert.equal(Object.keys(RETRYABLE).length, FAILURE_CLASSES.length, 'every class has a policy');
});

test('records failures - classification infers limits when the agent names no class', () => {
  const cases: { name: string; result: Parameters<typeof classifyFailure>[0]; want: string }[] = [
    { name: 'explicit class wins', result: { failureClass: 'infra', oomKilled: true }, want: 'infra' },
    { name: 'oom', result: { oomKilled: true }, want: 'limit' },
    { name: 'timeout', result: { timedOut: true }, want: 'limit' },
    { name: 'plain failure', result: {}, want: 'build' },
  ];
  for (const c of cases) assert.equal(classifyFailure(c.result), c.want, c.name);
});

test('records failures - describeFailure prefers the agent reason, then the facts', () => {
  assert.equal(describeFailure({ reason: 'dpkg-buildpackage failed' }, 'build'), 'dpkg-buildpackage failed');
  assert.match(describeFailure({ oomKilled: true }, 'limit'), /out of memory/);
  assert.match(describeFailure({ timedOut: true }, 'limit'), /time limit/);
  assert.equal(describeFailure({ exitCode: 2 }, 'build'), 'build failure: exit code 2');
});

test('records failures - backoff doubles per attempt up to the cap', () => {
  const opts = { baseMs: 1000, capMs: 10_000, random: () => 0.999999, jitter: 0.5 };
  const cases = [
    { attempt: 1, max: 1000 },
    { attempt: 2, max: 2000 },
    { attempt: 3, max: 4000 },
    { attempt: 4, max: 8000 },
    { attempt: 5, max: 10_000 },
    { attempt: 30, max: 10_000 },
  ];
  for (const c of cases) {
    assert.equal(backoff(c.attempt, opts), c.max - 1, `attempt ${c.attempt} at the top of its window`);
    assert.equal(backoff(c.attempt, { ...opts, random: () => 0 }), c.max / 2, `attempt ${c.attempt} at the bottom of its window`);
  }
});

test('records failures - backoff jitter stays inside [raw·(1-jitter), raw]', () => {
  for (const r of [0, 0.25, 0.5, 0.75, 0.99]) {
    const d = backoff(3, { baseMs: 100, capMs: 1e9, random: () => r, jitter: 0.2 });
    assert.ok(d >= 320 && d <= 400, `random ${r} gave ${d}`);
  }
  assert.equal(backoff(3, { baseMs: 100, capMs: 1e9, random: () => 0.7, jitter: 0 }), 400, 'no jitter: exact');
  assert.equal(backoff(0, { baseMs: 100, capMs: 1e9, random: () => 0, jitter: 0 }), 100, 'attempt below 1 counts as 1');
});
