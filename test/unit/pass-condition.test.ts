// Pure pieces of "a pass always records": the Ready condition, the earliest
// wake time of a plan, and the status change a failed step produces.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextCondition } from '../../reconciler/pass/condition.ts';
import { emptyEvents } from '../../reconciler/pass/events.ts';
import { statusChangeFor } from '../../reconciler/pass/status-change.ts';
import { earliestWake } from '../../reconciler/plan/next-wake.ts';
import { emptyObserved } from '../../reconciler/model.ts';
import { STATUS_LAYOUT } from '../../schema/status.ts';
import { validators } from '../../schema/validate.ts';

const t0 = new Date('2026-01-01T00:00:00Z');
const t1 = new Date('2026-01-01T01:00:00Z');

test('pass condition - Ready: failure names the step; since moves only when status or reason does', () => {
  const failed = nextCondition(undefined, { failed: { step: 'publish', message: 'disk full' } }, t0);
  assert.deepEqual(failed, { type: 'Ready', status: 'False', reason: 'PublishFailed', message: 'disk full', step: 'publish', since: t0.toISOString() });
  assert.ok(validators.conditionRecord(failed), JSON.stringify(validators.conditionRecord.errors));
  assert.equal(nextCondition(failed, { failed: { step: 'publish', message: 'disk still full' } }, t1).since, t0.toISOString(), 'same reason: since kept');
  const ok = nextCondition(failed, {}, t1);
  assert.deepEqual(ok, { type: 'Ready', status: 'True', reason: 'Reconciled', message: 'every planned step completed', since: t1.toISOString() });
  assert.deepEqual(nextCondition(ok, {}, new Date('2027-01-01T00:00:00Z')), ok, 'good after good: identical, so nothing is written');
});

test('pass condition - a failed step is written to conditions/Ready.yaml with the rest of the pass', () => {
  const events = { ...emptyEvents('c'.repeat(40)), outcome: { failed: { step: 'gate' as const, message: 'docker gone' } } };
  const change = statusChangeFor(emptyObserved(), events, { policy: { maxAttempts: 3, backoff: { baseMs: 1, capMs: 1 } }, now: t0, random: () => 0 });
  assert.ok(change);
  assert.match(change.files.get(STATUS_LAYOUT.condition('Ready')) ?? '', /reason: GateFailed/);
  assert.match(change.summary, /failed at gate/);
});

test('pass condition - earliest wake: the first `until` among the waits, none without one', () => {
  const w = (until?: string) => ({ subject: 's', reason: 'r', message: 'm', ...(until ? { until } : {}) });
  assert.equal(earliestWake(undefined), undefined);
  assert.equal(earliestWake({ desiredCommit: 'c', actions: [], waiting: [w(), w()] }), undefined);
  assert.equal(earliestWake({ desiredCommit: 'c', actions: [], waiting: [w('2026-01-01T02:00:00Z'), w(), w('2026-01-01T01:00:00Z')] }), Date.parse('2026-01-01T01:00:00Z'));
});

test('pass condition - results handed back unjudged make Ready False (ResultsUnjudged) naming each reason once; a failed step still wins', () => {
  const refused = 'the candidate registry\'s image could not be read: registry 127.0.0.1:5000 refused the credentials in /etc/kiln/auth.json';
  const unjudged = [{ buildKey: 'b'.repeat(64), reason: refused }, { buildKey: 'a'.repeat(64), reason: refused }];
  const c = nextCondition(undefined, { unjudged }, t0);
  assert.deepEqual(c, { type: 'Ready', status: 'False', reason: 'ResultsUnjudged', message: `2 build results handed back unjudged (nothing recorded, no attempt used): ${refused}`, since: t0.toISOString() });
  assert.ok(validators.conditionRecord(c), JSON.stringify(validators.conditionRecord.errors));
  assert.equal(nextCondition(undefined, { failed: { step: 'publish', message: 'disk full' }, unjudged }, t0).reason, 'PublishFailed');
  assert.equal(nextCondition(c, { unjudged: [] }, t1).status, 'True', 'judged again: Ready');

  const events = { ...emptyEvents('c'.repeat(40)), outcome: { unjudged } };
  const change = statusChangeFor(emptyObserved(), events, { policy: { maxAttempts: 3, backoff: { baseMs: 1, capMs: 1 } }, now: t0, random: () => 0 });
  assert.match(change?.files.get(STATUS_LAYOUT.condition('Ready')) ?? '', /reason: ResultsUnjudged/);
  assert.match(change?.summary ?? '', /not ready ResultsUnjudged/);
});
