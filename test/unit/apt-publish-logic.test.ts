import assert from 'node:assert/strict';
import { test } from 'node:test';
import { indexArchitectures, poolPath, poolPrefix } from '../../reconciler/publish/apt/layout.ts';
import { entriesForIndex, packagesIndex, packagesStanza, type PoolEntry } from '../../reconciler/publish/apt/packages-index.ts';
import { decidePrune } from '../../reconciler/publish/apt/prune.ts';
import { planFiles } from '../../reconciler/publish/apt/plan-files.ts';
import { redateRelease, releaseDate, releaseText } from '../../reconciler/publish/apt/release-file.ts';
import { PHASE_ORDER, planSwitch } from '../../reconciler/publish/apt/switch-plan.ts';
import { PublishInputError } from '../../schema/errors.ts';
import { aptDistribution } from '../helpers/distribution.ts';

const dist = aptDistribution('stable', { codename: 'kiln', architectures: ['amd64', 'arm64'], label: 'Kiln Stable', description: 'Test repo' });

const entry = (pkg: string, version: string, arch: string, extra = ''): PoolEntry => ({
  control: `Package: ${pkg}\nVersion: ${version}\nArchitecture: ${arch}\n${extra}Description: x\n more\n`,
  filename: poolPath('main', pkg, `${pkg}_${version}_${arch}.deb`),
  size: 100,
  sha256: 'a'.repeat(64),
  md5: 'b'.repeat(32),
  package: pkg,
  version,
  arch,
  component: 'main',
});

test('apt layout - pool fan-out follows Debian (lib prefixes)', () => {
  assert.equal(poolPrefix('hello'), 'h');
  assert.equal(poolPrefix('libfoo'), 'libf');
  assert.equal(poolPath('main', 'libfoo', 'libfoo1_1_amd64.deb'), 'pool/main/libf/libfoo/libfoo1_1_amd64.deb');
  assert.deepEqual(indexArchitectures({ architectures: ['arm64', 'all', 'amd64'] }), ['amd64', 'arm64']);
  assert.deepEqual(indexArchitectures({ architectures: ['all'] }), ['all']);
});

test('apt packages - stanza appends computed fields and drops forged ones', () => {
  const s = packagesStanza(entry('hello', '1.0', 'amd64', 'SHA256: forged\nSize: 1\n'));
  assert.match(s, /^Package: hello\n/);
  assert.doesNotMatch(s, /forged|Size: 1\n/);
  assert.match(s, /\nFilename: pool\/main\/h\/hello\/hello_1\.0_amd64\.deb\nSize: 100\nMD5sum: b{32}\nSHA256: a{64}\n$/);
});

test('apt packages - index holds arch-all packages in every arch, sorted, several versions', () => {
  const all = [entry('zed', '1', 'amd64'), entry('hello', '2', 'all'), entry('hello', '1', 'all'), entry('arm', '1', 'arm64')];
  const amd = packagesIndex(entriesForIndex(all, 'main', 'amd64'));
  assert.deepEqual(
    [...amd.matchAll(/^Package: (\S+)\nVersion: (\S+)/gm)].map((m) => `${m[1]}=${m[2]}`),
    ['hello=1', 'hello=2', 'zed=1'],
  );
  assert.equal(amd.split('\n\n').length, 3);
  assert.equal(packagesIndex([]), '');
});

test('apt release - fields, by-hash, sums and Valid-Until', () => {
  const date = new Date('2026-01-02T03:04:05Z');
  const text = releaseText({
    dist: { ...dist, validForDays: 7 },
    architectures: ['amd64'],
    components: ['main'],
    indexes: [{ path: 'main/binary-amd64/Packages', size: 12, sha256: 'c'.repeat(64), md5: 'd'.repeat(32) }],
    date,
  });
  assert.match(text, /^Origin: Kiln\nLabel: Kiln Stable\nSuite: stable\nCodename: kiln\nDate: Fri, 02 Jan 2026 03:04:05 UTC\nValid-Until: Fri, 09 Jan 2026 03:04:05 UTC\n/);
  assert.match(text, /\nAcquire-By-Hash: yes\n/);
  assert.match(text, /\nSHA256:\n c{64} +12 main\/binary-amd64\/Packages\n$/);
  const later = new Date('2026-02-01T00:00:00Z');
  const re = redateRelease(text, later);
  assert.match(re, new RegExp(`Date: ${releaseDate(later)}\nValid-Until: Sun, 08 Feb 2026 00:00:00 UTC\n`));
  assert.equal(re.replace(/^(Date|Valid-Until):.*\n/gm, ''), text.replace(/^(Date|Valid-Until):.*\n/gm, ''));
});

test('apt switch - by-hash, named indexes, key, Release, Release.gpg, then InRelease, state, prune', () => {
  const steps = planSwitch({
    indexes: [
      { path: 'dists/s/main/binary-amd64/Packages', byHashPath: 'dists/s/main/binary-amd64/by-hash/SHA256/1', data: Buffer.from('p') },
      { path: 'dists/s/main/binary-amd64/Packages.gz', byHashPath: 'dists/s/main/binary-amd64/by-hash/SHA256/2', data: Buffer.from('g') },
    ],
    key: { path: 'k.asc', data: 'key' },
    release: { dir: 'dists/s', release: 'r', releaseGpg: 'g', inRelease: 'i' },
  });
  const phases = steps.map((s) => s.phase);
  const rank = phases.map((p) => PHASE_ORDER.indexOf(p));
  assert.deepEqual(rank, [...rank].sort((a, b) => a - b), `phases out of order: ${phases.join(',')}`);
  const paths = steps.flatMap((s) => (s.op === 'write' ? [s.path] : [s.op]));
  assert.ok(paths.indexOf('dists/s/main/binary-amd64/by-hash/SHA256/2') < paths.indexOf('dists/s/main/binary-amd64/Packages'));
  assert.deepEqual(paths.slice(-5), ['dists/s/Release', 'dists/s/Release.gpg', 'dists/s/InRelease', 'save-state', 'prune']);
});

test('apt prune - unreferenced files retire first, go after the grace period, revive when referenced again', () => {
  const now = new Date('2026-01-01T01:00:00Z');
  const d = decidePrune(
    ['pool/a.deb', 'pool/b.deb', 'pool/c.deb', 'pool/d.deb'],
    new Set(['pool/a.deb', 'pool/d.deb']),
    { 'pool/c.deb': '2026-01-01T00:00:00Z', 'pool/d.deb': '2026-01-01T00:30:00Z' },
    now,
    600_000,
  );
  assert.deepEqual(d, { retire: ['pool/b.deb'], remove: ['pool/c.deb'], revive: ['pool/d.deb'] });
  assert.deepEqual(decidePrune(['pool/b.deb'], new Set(), {}, now, 0).remove, ['pool/b.deb']);
});

test('apt input - hostile names and unknown components are refused before any I/O', () => {
  const file = { name: 'hello_1_all.deb', sha256: 'e'.repeat(64), size: 1, path: '/x' };
  const bad: Array<[string, Parameters<typeof planFiles>[0], RegExp]> = [
    ['dist name', { distribution: { ...dist, name: '../etc' }, packages: [] }, /distribution name '\.\.\/etc'/],
    ['package name', { distribution: dist, packages: [{ name: '../../x', version: '1', arch: 'all', files: [file] }] }, /not a valid source package name/],
    ['file name', { distribution: dist, packages: [{ name: 'hello', version: '1', arch: 'all', files: [{ ...file, name: '../evil.deb' }] }] }, /neither a \.deb nor a source package file name/],
    ['source file name', { distribution: dist, packages: [{ name: 'hello', version: '1', arch: 'all', files: [{ ...file, name: '../evil.dsc' }] }] }, /neither a \.deb nor a source package file name/],
    ['other file', { distribution: dist, packages: [{ name: 'hello', version: '1', arch: 'all', files: [{ ...file, name: 'hello_1_amd64.buildinfo' }] }] }, /neither a \.deb nor a source package file name/],
    ['component', { distribution: dist, packages: [{ name: 'hello', version: '1', arch: 'all', component: 'contrib', files: [file] }] }, /component 'contrib' is not one of/],
    [
      'two contents',
      { distribution: dist, packages: [{ name: 'hello', version: '1', arch: 'amd64', files: [file] }, { name: 'hello', version: '1', arch: 'arm64', files: [{ ...file, sha256: 'f'.repeat(64) }] }] },
      /given twice with different contents/,
    ],
  ];
  for (const [what, input, re] of bad) assert.throws(() => planFiles(input), (e: unknown) => e instanceof PublishInputError && re.test(e.message), what);
  // The same arch-all file listed under two arches is one pool file.
  assert.equal(planFiles({ distribution: dist, packages: [{ name: 'hello', version: '1', arch: 'amd64', files: [file] }, { name: 'hello', version: '1', arch: 'arm64', files: [file] }] }).length, 1);
});
