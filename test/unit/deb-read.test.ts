import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildAr, parseAr } from '../../reconciler/publish/deb/ar.ts';
import { field, formatControlParagraph, parseControlParagraph } from '../../reconciler/publish/deb/control-paragraph.ts';
import { readDebControl } from '../../reconciler/publish/deb/read-deb.ts';
import { DebFormatError } from '../../schema/errors.ts';
import { buildDeb } from '../helpers/deb.ts';

test('deb ar - round-trips members, odd sizes padded', () => {
  const members = [
    { name: 'debian-binary', data: Buffer.from('2.0\n') },
    { name: 'odd', data: Buffer.from('abc') },
    { name: 'even', data: Buffer.from('abcd') },
  ];
  const parsed = parseAr(buildAr(members));
  assert.deepEqual(
    parsed.map((m) => [m.name, m.data.toString()]),
    members.map((m) => [m.name, m.data.toString()]),
  );
});

test('deb ar - rejects a non-archive and a truncated member, naming the file', () => {
  assert.throws(() => parseAr(Buffer.from('hello'), 'x.deb'), (e: unknown) => e instanceof DebFormatError && /x\.deb: not a \.deb/.test(e.message));
  const good = buildAr([{ name: 'debian-binary', data: Buffer.from('2.0\n') }]);
  assert.throws(() => parseAr(good.subarray(0, good.length - 2), 'y.deb'), /y\.deb: ar member 'debian-binary' runs past the end/);
});

test('deb control - multi-line fields keep continuation lines and order', () => {
  const f = parseControlParagraph('Package: hello\nVersion: 1.0\nDescription: short\n long line\n .\n more\nDepends: libc6 (>= 2.36),\n\tzlib1g\n\nPackage: second\n');
  assert.deepEqual([...f.keys()], ['Package', 'Version', 'Description', 'Depends']);
  assert.equal(f.get('Description'), 'short\n long line\n .\n more');
  assert.equal(f.get('Depends'), 'libc6 (>= 2.36),\n\tzlib1g');
  assert.equal(field(f, 'package'), 'hello');
  assert.equal(formatControlParagraph(f), 'Package: hello\nVersion: 1.0\nDescription: short\n long line\n .\n more\nDepends: libc6 (>= 2.36),\n\tzlib1g\n');
});

test('deb control - errors name the line', () => {
  assert.throws(() => parseControlParagraph(' leading\n', 'c'), /c:1: continuation line before any field/);
  assert.throws(() => parseControlParagraph('Package: a\nno colon here\n', 'c'), /c:2: expected 'Field: value'/);
  assert.throws(() => parseControlParagraph('Package: a\npackage: b\n', 'c'), /c:2: field 'package' appears twice/);
});

test('deb read - control fields of a generated .deb', async () => {
  const bytes = await buildDeb({ name: 'hello', version: '2:1.0-1', arch: 'amd64', depends: 'libc6', script: 'echo hi' });
  const f = await readDebControl(bytes, 'hello.deb');
  assert.equal(f.get('Package'), 'hello');
  assert.equal(f.get('Version'), '2:1.0-1');
  assert.equal(f.get('Architecture'), 'amd64');
  assert.equal(f.get('Depends'), 'libc6');
});

test('deb read - a .deb without control.tar is refused with its name', async () => {
  const bytes = buildAr([{ name: 'debian-binary', data: Buffer.from('2.0\n') }, { name: 'data.tar.gz', data: Buffer.alloc(0) }]);
  await assert.rejects(readDebControl(bytes, 'broken_1_all.deb'), /broken_1_all\.deb: no control\.tar member/);
});
