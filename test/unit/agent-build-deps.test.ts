import assert from 'node:assert/strict';
import { test } from 'node:test';
import { depsImageTag, applicableBuildDeps, parseBuildDepends } from '../../agents/build-deps.ts';
import { BuildDepsError } from '../../schema/errors.ts';

const control = (bd: string, extra = '') => `Source: hello\nMaintainer: A <a@b.c>\n${bd}\n${extra}Standards-Version: 4.6.2\n\nPackage: hello\nArchitecture: any\nBuild-Depends: not-in-source-paragraph\nDescription: x\n`;

test('agent build-deps - build-essential is implied; everything else is listed for checking', () => {
  const rel = parseBuildDepends(control('Build-Depends: debhelper-compat (= 13), build-essential'));
  assert.equal(rel.length, 2);
  assert.deepEqual(rel[0], [{ name: 'debhelper-compat', version: { op: '=', version: '13' } }]);
  assert.deepEqual(applicableBuildDeps(rel, 'amd64'), ['debhelper-compat (= 13)']);
});

test('agent build-deps - continuation lines, -Arch/-Indep fields, alternatives, versions', () => {
  const rel = parseBuildDepends(
    control('Build-Depends: debhelper-compat (= 13),\n zlib1g-dev (>= 1:1.2),\n libfoo-dev | libbar-dev,', 'Build-Depends-Indep: python3:any\nBuild-Depends-Arch: libssl-dev\n'),
  );
  assert.deepEqual(applicableBuildDeps(rel, 'amd64'), ['debhelper-compat (= 13)', 'libfoo-dev | libbar-dev', 'libssl-dev', 'python3:any', 'zlib1g-dev (>= 1:1.2)']);
});

test('agent build-deps - [arch] and <profile> restrictions are evaluated for the target', () => {
  const rel = parseBuildDepends(control('Build-Depends: libnuma-dev [amd64 arm64], libfoo [!amd64], check <!nocheck>, crossthing <cross>'));
  assert.deepEqual(applicableBuildDeps(rel, 'amd64'), ['check', 'libnuma-dev']);
  assert.deepEqual(applicableBuildDeps(rel, 'armhf'), ['check', 'libfoo']);
  assert.deepEqual(applicableBuildDeps(rel, 'amd64', ['nocheck']), ['libnuma-dev']);
});

test('agent build-deps - a bad relation names file, line and field', () => {
  const text = control('Build-Depends: debhelper-compat (= 13),\n Foo$bar');
  assert.throws(
    () => parseBuildDepends(text, 'src/debian/control'),
    (e: unknown) => e instanceof BuildDepsError && /src\/debian\/control:3: Build-Depends: 'Foo\$bar' is not a valid package name/.test(e.message),
  );
  assert.throws(() => parseBuildDepends(control('Build-Depends: foo (>= 1.0; rm -rf /)')), BuildDepsError);
});

test('agent build-deps - no Build-Depends at all is an empty list', () => {
  assert.deepEqual(parseBuildDepends('Source: x\n\nPackage: x\n'), []);
});

test('agent build-deps - the image cache key depends on the set of deps and the base image only', () => {
  const a = depsImageTag(['b', 'a'], 'sha256:1');
  assert.equal(a, depsImageTag(['a', 'b'], 'sha256:1'));
  assert.notEqual(a, depsImageTag(['a', 'b'], 'sha256:2'));
  assert.notEqual(a, depsImageTag(['a'], 'sha256:1'));
  assert.match(a, /^kiln-deps:[0-9a-f]{64}$/);
});
