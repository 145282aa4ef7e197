import assert from 'node:assert/strict';
import { test } from 'node:test';
import { closest, didYouMean } from '../../reconciler/desired/did-you-mean.ts';

test('did you mean - suggests the nearest candidate within a small distance', () => {
  const keys = ['name', 'version', 'source', 'format', 'architectures', 'release', 'pool'];
  assert.equal(closest('releese', keys), 'release');
  assert.equal(closest('architecture', keys), 'architectures');
  assert.equal(closest('Version', keys), 'version');
  assert.equal(closest('dbe', ['deb', 'gpu']), 'deb', 'an adjacent swap counts as one edit');
  assert.equal(closest('foo', keys), undefined, 'short words need a close match');
  assert.equal(closest('completely-different', keys), undefined);
  assert.equal(closest('x', []), undefined);
});

test('did you mean - formats the hint or nothing', () => {
  assert.equal(didYouMean('amd46', ['amd64', 'arm64']), "; did you mean 'amd64'?");
  assert.equal(didYouMean('zzzzzz', ['amd64']), '');
});
