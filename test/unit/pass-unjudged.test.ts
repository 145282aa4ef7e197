// Pure: what a reconciler remembers of results it handed back unjudged (reconciler/pass/unjudged.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextUnjudged, UNJUDGED_FORGET_MS, unjudgedList, type UnjudgedMemo } from '../../reconciler/pass/unjudged.ts';

const refused = { buildKey: 'k1', reason: 'registry refused the credentials' };

test('pass unjudged - remembered until judged; seeing it again or a pass that sees nothing is no change', () => {
  const first = nextUnjudged(new Map(), [refused], [], 1000);
  assert.equal(first.changed, true);
  assert.deepEqual(unjudgedList(first.memo), [refused]);
  assert.equal(nextUnjudged(first.memo, [], [], 2000).changed, false, 'redelivery not due yet: the condition stays');
  const again = nextUnjudged(first.memo, [refused], [], 11_000);
  assert.equal(again.changed, false);
  assert.equal(again.memo.get('k1')?.seenAt, 11_000);
  const judged = nextUnjudged(again.memo, [], ['k1'], 12_000);
  assert.equal(judged.changed, true);
  assert.equal(judged.memo.size, 0);
});

test('pass unjudged - another reason is a change; a result not seen for UNJUDGED_FORGET_MS is forgotten', () => {
  const memo: UnjudgedMemo = new Map([['k1', { reason: refused.reason, seenAt: 0 }]]);
  assert.equal(nextUnjudged(memo, [{ buildKey: 'k1', reason: 'registry down' }], [], 1).changed, true);
  assert.equal(nextUnjudged(memo, [], [], UNJUDGED_FORGET_MS - 1).changed, false);
  const gone = nextUnjudged(memo, [], [], UNJUDGED_FORGET_MS);
  assert.equal(gone.changed, true);
  assert.deepEqual(unjudgedList(gone.memo), []);
});
