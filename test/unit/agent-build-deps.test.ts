import assert from 'node:assert/strict';
import { test } from 'node:test';
import { depsImageTag, applicableBuildDeps, parseBuildDepends } from '../../agents/build-deps.ts';
import { INSTALL_SCRIPT, parseResolved, RESOLVE_SCRIPT, sourceEnv } from '../../agents/deps-image.ts';
import { withBinNMU } from '../../agents/binnmu-entry.ts';
import { binaryVersion } from '../../schema/binnmu.ts';
import type { BuildJob } from '../../schema/messages.ts';
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

test('agent build-deps - the image cache key depends on the resolved versions and digests and the base image only', () => {
  const foo11 = 'libfoo-dev=1.1-1 ' + 'a'.repeat(64);
  const bar = 'libbar1=2.0-1 ' + 'b'.repeat(64);
  const a = depsImageTag([bar, foo11], 'sha256:1');
  assert.equal(a, depsImageTag([foo11, bar], 'sha256:1'), 'order does not matter');
  assert.notEqual(a, depsImageTag([foo11, bar], 'sha256:2'), 'another base image');
  assert.notEqual(a, depsImageTag([foo11], 'sha256:1'), 'another set');
  assert.notEqual(a, depsImageTag(['libfoo-dev=1.2-1 ' + 'a'.repeat(64), bar], 'sha256:1'), 'a new libfoo-dev version');
  assert.notEqual(a, depsImageTag(['libfoo-dev=1.1-1 ' + 'c'.repeat(64), bar], 'sha256:1'), 'the same version with other bytes');
  assert.match(a, /^kiln-deps:[0-9a-f]{64}$/);
});

test('agent build-deps - the resolve step\'s output gives name=version and digest of each package apt would install', () => {
  const out = 'Reading package lists...\nkiln-resolved libfoo-dev 1.1-1 ' + 'a'.repeat(64) + '\r\nInst x (1 y)\nkiln-resolved libfoo1 1.1-1 unknown\n';
  assert.deepEqual(parseResolved(out), ['libfoo-dev=1.1-1 ' + 'a'.repeat(64), 'libfoo1=1.1-1 unknown']);
  assert.deepEqual(parseResolved('nothing here\n'), []);
});

test('agent build-deps - a buildFrom source becomes environment for the apt scripts, never part of them', () => {
  const key = '-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nxyz\n-----END PGP PUBLIC KEY BLOCK-----\n';
  const env = sourceEnv({ distribution: 'testing', url: 'http://127.0.0.1:8080/repos/testing', suite: 'testing', components: ['main', 'extra'], key });
  assert.deepEqual(env, [
    'KILN_SRC_LINE=deb [signed-by=/etc/apt/keyrings/kiln-build-from.asc] http://127.0.0.1:8080/repos/testing testing main extra',
    `KILN_SRC_KEY=${key}`,
    'KILN_SRC_HOST=127.0.0.1',
  ]);
  assert.deepEqual(sourceEnv(undefined), []);
  assert.doesNotMatch(RESOLVE_SCRIPT + INSTALL_SCRIPT, /127\.0\.0\.1|testing/);
});

test('agent build-deps - a binNMU job adds a changelog entry before the build; other jobs run the build alone', () => {
  const job = { dispatchedAt: '2026-11-21T12:00:00.000Z', inputs: { package: 'kilnhello', version: '1.0', arch: 'amd64', binNMU: 2, builtAgainst: { libkilnhello: '1.2@' + 'k'.repeat(64) } } } as unknown as BuildJob;
  const b = withBinNMU(job, ['dpkg-buildpackage', '-b']);
  assert.deepEqual(b.cmd.slice(0, 2), ['sh', '-c']);
  assert.deepEqual(b.cmd.slice(3), ['kiln-binnmu', 'dpkg-buildpackage', '-b']);
  assert.ok(b.env.includes('KILN_BINNMU_VERSION=1.0+kiln2'));
  assert.ok(b.env.includes('KILN_BINNMU_REASON=Binary-only rebuild by Kiln for amd64 against libkilnhello 1.2; no source changes.'));
  assert.ok(b.env.includes('KILN_BINNMU_DATE=Sat, 21 Nov 2026 12:00:00 +0000'));
  const sourceFirst = withBinNMU(job, ['dpkg-buildpackage', '-b'], ['dpkg-buildpackage', '-S']);
  assert.match(sourceFirst.cmd[2], /^set -e\ndpkg-buildpackage -S\nsrc=/, 'the source package is made from the unchanged tree, before the entry');
  const plain = withBinNMU({ ...job, inputs: { ...job.inputs, binNMU: undefined } } as BuildJob, ['dpkg-buildpackage', '-b']);
  assert.deepEqual(plain, { cmd: ['dpkg-buildpackage', '-b'], env: [] });
  assert.equal(binaryVersion({ version: '1.0-1' }), '1.0-1');
});
