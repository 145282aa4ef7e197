import assert from 'node:assert/strict';
import { test } from 'node:test';
import { debianVersionProblem, parseDebianVersion } from '../../reconciler/formats/deb/debian-version.ts';

test('debian version - valid versions split into epoch, upstream, revision', () => {
  const table: Array<[string, number, string, string]> = [
    ['1.0', 0, '1.0', ''],
    ['1.0-1', 0, '1.0', '1'],
    ['2:1.0-1', 2, '1.0', '1'],
    ['1.0-1-2', 0, '1.0-1', '2'],
    ['1.0~rc1-0ubuntu1', 0, '1.0~rc1', '0ubuntu1'],
    ['0:0', 0, '0', ''],
    ['1.2+dfsg-3+deb12u1', 0, '1.2+dfsg', '3+deb12u1'],
    ['10:2023.01.01-1~bpo12+1', 10, '2023.01.01', '1~bpo12+1'],
    ['1.0A', 0, '1.0A', ''],
  ];
  for (const [v, epoch, upstream, revision] of table) {
    assert.deepEqual(parseDebianVersion(v), { ok: true, epoch, upstream, revision }, v);
  }
});

test('debian version - invalid versions say which rule they break', () => {
  const table: Array<[string, RegExp]> = [
    ['', /empty/],
    ['1.0-', /revision after the last '-' cannot be empty/],
    ['-1', /upstream version cannot be empty/],
    ['a:1.0', /epoch 'a'/],
    [':1.0', /epoch ''/],
    ['1:2:3', /only one ':'/],
    ['v1.0', /must start with a digit/],
    ['1.0_1', /may only contain.*found '_'/],
    ['1.0 1', /whitespace/],
    ['1.0-1_2', /Debian revision '1_2'/],
    ['1.0-a-b!', /Debian revision 'b!'/],
    ['1.0/2', /found '\/'/],
    ['99999999999:1', /too large/],
  ];
  for (const [v, re] of table) {
    const p = parseDebianVersion(v);
    assert.equal(p.ok, false, v);
    assert.match(debianVersionProblem(v)!, re, v);
  }
  assert.equal(debianVersionProblem('1.0-1'), undefined);
});

test('debian version - a hyphen in upstream needs a revision', () => {
  // "1.0-beta" is upstream 1.0 with revision beta: legal. A native version cannot hold a hyphen at all,
  // which the parser expresses by always splitting at the last hyphen.
  assert.deepEqual(parseDebianVersion('1.0-beta'), { ok: true, epoch: 0, upstream: '1.0', revision: 'beta' });
});
