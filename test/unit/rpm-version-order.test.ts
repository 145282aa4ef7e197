// rpm's version order, checked against rpm's own rpm.vercmp (Debian `rpm` on the
// host) on a table of the cases rpmvercmp.c special-cases.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { compareEvr, parseEvr, rpmVersionProblem } from '../../rpm/version-order.ts';

const PAIRS: [string, string][] = [
  ['1.0-1', '1.0-1'], ['1.0-1', '1.0-2'], ['1.0-1', '1.1-1'], ['1.0-10', '1.0-9'], ['1.0~rc1-1', '1.0-1'],
  ['1.0^git1-1', '1.0-1'], ['1.0^git1-1', '1.0.1-1'], ['1.0~rc1^p1-1', '1.0~rc1-1'], ['1:1.0-1', '2.0-1'], ['0:1.0-1', '1.0-1'],
  ['1.0a-1', '1.0.1-1'], ['1.0a-1', '1.0-1'], ['1.001-1', '1.1-1'], ['1.0.0-1', '1.0-1'], ['2.0-1.fc40', '2.0-1.fc39'],
  ['1.a-1', '1.1-1'], ['1_0-1', '1.0-1'], ['1.0-1~', '1.0-1'], ['10-1', '9-1'], ['a-1', 'b-1'], ['1.0~~-1', '1.0~-1'],
];

const sign = (n: number) => Math.sign(n);

function rpmSays(a: string, b: string): number | undefined {
  try {
    return Number(execFileSync('rpm', ['--eval', `%{lua:print(rpm.vercmp("${a}","${b}"))}`]).toString().trim());
  } catch {
    return undefined;
  }
}

const rpmMissing = rpmSays('1', '1') === undefined ? 'rpm is not installed on the host (scripts/setup-host installs it)' : undefined;

test('rpm version order - agrees with rpm.vercmp on every pair, both ways', { skip: rpmMissing }, () => {
  for (const [a, b] of PAIRS) {
    assert.equal(sign(compareEvr(a, b)), rpmSays(a, b), `${a} vs ${b}`);
    assert.equal(sign(compareEvr(b, a)), rpmSays(b, a), `${b} vs ${a}`);
  }
});

test('rpm version order - EVR split and validity', () => {
  assert.deepEqual(parseEvr('2:1.0-1.el9'), { epoch: 2, version: '1.0', release: '1.el9' });
  assert.deepEqual(parseEvr('1.0-1-2'), { epoch: 0, version: '1.0-1', release: '2' });
  assert.equal(rpmVersionProblem('1.0-1'), undefined);
  assert.equal(rpmVersionProblem('1:1.0~rc1-0.1'), undefined);
  assert.match(rpmVersionProblem('1.0')!, /expected \[EPOCH:\]VERSION-RELEASE/);
  assert.match(rpmVersionProblem('1.0 -1')!, /not an rpm version/);
});
