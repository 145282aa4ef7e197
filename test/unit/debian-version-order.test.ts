import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareDebianVersions } from '../../reconciler/formats/deb/version-order.ts';

// [a, b, sign of compare(a, b)] — cases checked against `dpkg --compare-versions`.
const cases: Array<[string, string, -1 | 0 | 1]> = [
  ['1.0', '1.0', 0],
  ['1.0', '1.1', -1],
  ['1.10', '1.9', 1],
  ['1.0-1', '1.0-2', -1],
  ['1.0~rc1', '1.0', -1],
  ['1.0~rc1', '1.0~rc2', -1],
  ['1.0~~', '1.0~', -1],
  ['1:0.1', '2.0', 1],
  ['0:1.0', '1.0', 0],
  ['1.0a', '1.0', 1],
  ['1.0+b1', '1.0', 1],
  ['1.0-1', '1.0', 1],
  ['2.0-1', '10.0-1', -1],
  ['1.001', '1.1', 0],
  ['1.0.a', '1.0+a', 1],
];

for (const [a, b, want] of cases) {
  test(`debian version order - ${a} vs ${b}`, () => {
    assert.equal(Math.sign(compareDebianVersions(a, b)), want);
    assert.equal(Math.sign(compareDebianVersions(b, a)), -want || 0);
  });
}
