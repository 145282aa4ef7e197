import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseBinaries, parseBuildDepends, paragraphs } from '../../debian/control.ts';
import { BuildDepsError } from '../../schema/errors.ts';

const CONTROL = `Source: kilnhello
# a comment
Build-Depends: debhelper-compat (= 13),
 libkilnhello-dev (>= 1.1) | libkilnhello0-dev,
 libfoo-dev [amd64 arm64] <!nocheck> <cross>
Build-Depends-Indep: python3:any

Package: kilnhello
Architecture: any
Depends: \${shlibs:Depends}

Package: kilnhello-doc
Architecture: all
`;

test('debian control - policy 7.1 relations: versions, alternatives, arch lists, profile formulas, arch qualifiers', () => {
  assert.deepEqual(parseBuildDepends(CONTROL), [
    [{ name: 'debhelper-compat', version: { op: '=', version: '13' } }],
    [{ name: 'libkilnhello-dev', version: { op: '>=', version: '1.1' } }, { name: 'libkilnhello0-dev' }],
    [{ name: 'libfoo-dev', arches: ['amd64', 'arm64'], profiles: [['!nocheck'], ['cross']] }],
    [{ name: 'python3:any' }],
  ]);
});

test('debian control - binary paragraphs give the packages a source produces, with their line', () => {
  assert.deepEqual(parseBinaries(CONTROL), [
    { name: 'kilnhello', architectures: ['any'], line: 8 },
    { name: 'kilnhello-doc', architectures: ['all'], line: 12 },
  ]);
  assert.equal(paragraphs(CONTROL).length, 3);
});

test('debian control - a malformed relation names file, line and field', () => {
  for (const bad of ['libfoo (>= )', 'libfoo (~ 1)', 'Libfoo', 'libfoo <nocheck', 'libfoo [amd64] junk']) {
    assert.throws(
      () => parseBuildDepends(`Source: x\nBuild-Depends: debhelper,\n ${bad}\n`, 'src/debian/control'),
      (e: unknown) => e instanceof BuildDepsError && /^src\/debian\/control:2: Build-Depends: /.test(e.message),
      bad,
    );
  }
});

test('debian control - a bad binary package name is refused with its line', () => {
  assert.throws(() => parseBinaries('Source: x\n\nPackage: Bad_Name\n'), /debian\/control:3: Package: 'Bad_Name'/);
});
