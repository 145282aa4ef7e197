import assert from 'node:assert/strict';
import { test } from 'node:test';
import { applyResult, LOG_TAIL_MAX, recordDispatch, requestRetry, type RetryPolicy } from '../../reconciler/records/build-records.ts';
import type { BuildAction } from '../../reconciler/model.ts';
import type { BuildResult } from '../../schema/messages.ts';
import type { BuildRecord } from '../../schema/status.ts';
import { validators } from '../../schema/validate.ts';

const KEY = 'a'.repeat(64);
const inputs: BuildRecord['inputs'] = {
  package: 'hello',
  version: '1.0',
  source: { url: 'https://git.example/hello.git', commit: 'c'.repeat(40) },
  recipe: { format: 'deb', rebuild: 0 },
  image: 'kiln/bookworm-debhelper',
  arch: 'amd64',
  target: 'bookworm',
};
const action = (attempt: number): BuildAction => ({
  kind: 'build',
  reason: attempt === 1 ? 'NeverBuilt' : 'RetryAfterInfraFailure',
  message: 'm',
  key: KEY,
  package: 'hello',
  version: '1.0',
  arch: 'amd64',
  pool: 'default',
  attempt,
  inputs,
  limits: { memoryMiB: 512, cpus: 1, pids: 256, timeoutSeconds: 600 },
});
const T0 = new Date('2026-01-01T00:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const policy: RetryPolicy = { maxAttempts: 3, backoff: { baseMs: 60_000, capMs: 3_600_000, jitter: 0 } };
const random = () => 0.5;

function result(attempt: number, over: Partial<BuildResult> = {}): BuildResult {
  return {
    v: 1,
    key: KEY,
    attempt,
    inputs,
    pool: 'default',
    desiredCommit: 'd'.repeat(40),
    agent: 'agent-1',
    outcome: 'succeeded',
    artifacts: [{ name: 'hello_1.0_amd64.deb', sha256: 'b'.repeat(64), size: 1234 }],
    log: { sha256: 'e'.repeat(64), size: 99, object: `logs/${KEY}/${attempt}` },
    startedAt: at(10).toISOString(),
    finishedAt: at(20).toISOString(),
    ...over,
  };
}
const failed = (attempt: number, over: Partial<BuildResult> = {}) =>
  result(attempt, { outcome: 'failed', artifacts: [], failureClass: 'build', reason: 'exit 2', exitCode: 2, logTail: 'error: boom', ...over });

function valid(r: BuildRecord | null): BuildRecord {
  assert.ok(r, 'expected a record');
  assert.ok(validators.buildRecord(r), JSON.stringify(validators.buildRecord.errors));
  return r;
}

test('records build-records - dispatch creates a queued record, re-dispatch appends an attempt once', () => {
  const r1 = valid(recordDispatch(undefined, action(1), 'd1', T0));
  assert.equal(r1.state, 'queued');
  assert.deepEqual(r1.attempts, [{ n: 1, dispatchedAt: T0.toISOString() }]);
  assert.equal(r1.desiredCommit, 'd1');

  const f = valid(applyResult(r1, failed(1, { failureClass: 'infra' }), policy, at(30), random));
  const r2 = valid(recordDispatch(f, action(2), 'd2', at(200)));
  assert.equal(r2.state, 'queued');
  assert.equal(r2.failure, undefined, 'the old failure is cleared');
  assert.equal(r2.retryAt, undefined);
  assert.deepEqual(r2.attempts.map((a) => a.n), [1, 2]);
  assert.equal(r2.attempts[0].outcome, 'failed', 'history kept');

  const again = valid(recordDispatch(r2, action(2), 'd2', at(201)));
  assert.deepEqual(again.attempts.map((a) => a.n), [1, 2], 'same attempt twice is not duplicated');
});

test('records build-records - results table', () => {
  const queued1 = recordDispatch(undefined, action(1), 'd1', T0);
  const queued3 = [2, 3].reduce((r, n) => recordDispatch(applyResult(r, failed(n - 1, { failureClass: 'infra' }), policy, at(n), random)!, action(n), 'd1', at(n)), queued1);
  const succeeded = applyResult(queued1, result(1), policy, at(30), random)!;
  const cases: {
    name: string;
    existing: BuildRecord | undefined;
    result: BuildResult;
    want: null | Partial<Pick<BuildRecord, 'state' | 'retryAt'>> & { retryable?: boolean; class?: string; reason?: RegExp; attempts?: number };
  }[] = [
    { name: 'success', existing: queued1, result: result(1), want: { state: 'succeeded', attempts: 1 } },
    { name: 'success without a record (dispatch never committed)', existing: undefined, result: result(1), want: { state: 'succeeded', attempts: 1 } },
    { name: 'duplicate result after success', existing: succeeded, result: result(1), want: null },
    { name: 'late failure after success', existing: succeeded, result: failed(1), want: null },
    { name: 'compile failure: final', existing: queued1, result: failed(1), want: { state: 'failed', retryable: false, class: 'build', reason: /exit 2/ } },
    { name: 'oom: final, limit', existing: queued1, result: failed(1, { failureClass: undefined, reason: undefined, oomKilled: true, exitCode: 137 }), want: { state: 'failed', retryable: false, class: 'limit', reason: /out of memory/ } },
    { name: 'timeout: final, limit', existing: queued1, result: failed(1, { failureClass: 'limit', reason: undefined, timedOut: true }), want: { state: 'failed', retryable: false, class: 'limit', reason: /time limit/ } },
    { name: 'poison: final', existing: queued1, result: failed(1, { failureClass: 'poison', reason: 'delivered 3 times without a result' }), want: { state: 'failed', retryable: false, class: 'poison' } },
    { name: 'integrity: final', existing: queued1, result: failed(1, { failureClass: 'integrity' }), want: { state: 'failed', retryable: false, class: 'integrity' } },
    { name: 'infra: retry after backoff', existing: queued1, result: failed(1, { failureClass: 'infra' }), want: { state: 'failed', retryable: true, class: 'infra', retryAt: new Date(at(30).getTime() + 60_000).toISOString() } },
    { name: 'infra on the last attempt: final with the reason', existing: queued3, result: failed(3, { failureClass: 'infra' }), want: { state: 'failed', retryable: false, class: 'infra', reason: /gave up after 3 of 3 attempts/, attempts: 3 } },
    { name: 'redelivered failure of a recorded attempt', existing: applyResult(queued1, failed(1), policy, at(30), random)!, result: failed(1), want: null },
    { name: 'old attempt fails while a newer one is queued: history only', existing: recordDispatch(queued1, action(2), 'd1', at(5)), result: failed(1, { failureClass: 'infra' }), want: { state: 'queued', attempts: 2 } },
    { name: 'old attempt succeeds while a newer one is queued: success', existing: recordDispatch(queued1, action(2), 'd1', at(5)), result: result(1), want: { state: 'succeeded', attempts: 2 } },
  ];
  for (const c of cases) {
    const got = applyResult(c.existing, c.result, policy, at(30), random);
    if (c.want === null) {
      assert.equal(got, null, c.name);
      continue;
    }
    const r = valid(got);
    assert.equal(r.state, c.want.state, c.name);
    if (c.want.retryable !== undefined) assert.equal(r.failure?.retryable, c.want.retryable, `${c.name}: retryable`);
    if (c.want.class) assert.equal(r.failure?.class, c.want.class, `${c.name}: class`);
    if (c.want.reason) assert.match(r.failure?.reason ?? '', c.want.reason, `${c.name}: reason`);
    if (c.want.retryAt) assert.equal(r.retryAt, c.want.retryAt, `${c.name}: retryAt`);
    if (c.want.retryable === false) assert.equal(r.retryAt, undefined, `${c.name}: no retryAt`);
    if (c.want.attempts) assert.equal(r.attempts.length, c.want.attempts, `${c.name}: attempts`);
    if (r.state === 'succeeded') {
      assert.equal(r.failure, undefined, `${c.name}: no failure`);
      assert.deepEqual(r.artifacts, c.result.artifacts, `${c.name}: artifacts`);
    }
  }
});

test('records build-records - a failure keeps the tail of its log, bounded', () => {
  const long = 'x'.repeat(LOG_TAIL_MAX) + 'THE END';
  const r = valid(applyResult(recordDispatch(undefined, action(1), 'd1', T0), failed(1, { logTail: long }), policy, at(30), random));
  assert.equal(r.failure?.logTail?.length, LOG_TAIL_MAX);
  assert.ok(r.failure?.logTail?.endsWith('THE END'));
  assert.equal(r.log?.object, `logs/${KEY}/1`);
  const a = r.attempts[0];
  assert.equal(a.agent, 'agent-1');
  assert.equal(a.exitCode, 2);
  assert.equal(a.outcome, 'failed');
  assert.equal(a.dispatchedAt, T0.toISOString(), 'dispatch time kept from the queued record');
});

test('records build-records - retry request makes a failed record retryable now', () => {
  const f = applyResult(recordDispatch(undefined, action(1), 'd1', T0), failed(1), policy, at(30), random)!;
  const r = valid(requestRetry(f, at(100), 'alice'));
  assert.equal(r.failure?.retryable, true);
  assert.equal(r.retryAt, at(100).toISOString());
  assert.match(r.failure?.reason ?? '', /retry requested by alice/);
  assert.equal(requestRetry(r, at(101)), null, 'already retryable now');
  assert.equal(requestRetry(applyResult(recordDispatch(undefined, action(1), 'd1', T0), result(1), policy, at(30), random)!, at(100)), null, 'nothing to retry after success');
});
