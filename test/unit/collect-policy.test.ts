import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HAND_BACK, handBackDelay, willPublish } from '../../reconciler/pass/collect-step.ts';
import type { BuildResult } from '../../schema/messages.ts';

const result = (pkg: string) => ({ inputs: { package: pkg } }) as unknown as BuildResult;

test('collect policy - verified bytes are cached only for a package some distribution releases (or when that is not known yet)', () => {
  const declared = new Map([
    ['released', { format: 'deb' as const, release: ['stable'] }],
    ['unreleased', { format: 'deb' as const, release: [] }],
    ['unknown-release', { format: 'deb' as const }],
  ]);
  assert.equal(willPublish(result('released'), declared), true);
  assert.equal(willPublish(result('unreleased'), declared), false);
  assert.equal(willPublish(result('gone'), declared), false, 'no longer declared: nothing publishes it');
  assert.equal(willPublish(result('unknown-release'), declared), true);
  assert.equal(willPublish(result('anything'), undefined), true, 'before the desired state is read: cached, as before');
});

test('collect policy - one hand-back delay for every reason: grows with deliveries from 1 s, capped at a minute', () => {
  const top = () => 0.999999;
  assert.equal(handBackDelay(1, top), HAND_BACK.baseMs - 1);
  assert.equal(handBackDelay(3, top), 4 * HAND_BACK.baseMs - 1);
  assert.equal(handBackDelay(50, top), HAND_BACK.capMs - 1);
  assert.equal(handBackDelay(1, () => 0), HAND_BACK.baseMs / 2, 'jitter takes off at most half');
  for (let d = 1; d < 12; d++) assert.ok(handBackDelay(d + 1, top) >= handBackDelay(d, top));
});
