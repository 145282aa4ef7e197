// The pure parts of the publish guards: a .deb's identity against its declared
// package, the binaries a debian/control declares, which rejections a release
// record keeps, and reading back what a published repository's signed files say.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseDeclaredBinaries } from '../../agents/declared-binaries.ts';
import { nameVerdict } from '../../agents/job-handler.ts';
import { isMissingTopology } from '../../reconciler/nats/repair.ts';
import { keptRejections } from '../../reconciler/pass/publish-step.ts';
import { inReleaseBody, releaseIndexes } from '../../reconciler/publish/apt/observe.ts';
import { parseControlParagraph } from '../../reconciler/publish/deb/control-paragraph.ts';
import { identityProblems } from '../../reconciler/publish/deb/identity.ts';

const control = (fields: Record<string, string>) => parseControlParagraph(Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('\n'));
const want = { source: 'hello', version: '1.0-1', arch: 'amd64', binaries: ['hello', 'hello-doc'] };

test('publish guard - a .deb matching its declared package has no identity problems', () => {
  assert.deepEqual(identityProblems('hello_1.0-1_amd64.deb', control({ Package: 'hello', Version: '1.0-1', Architecture: 'amd64' }), want), []);
  assert.deepEqual(identityProblems('hello-doc_1.0-1_all.deb', control({ Package: 'hello-doc', Source: 'hello', Version: '1.0-1', Architecture: 'all' }), want), []);
  assert.deepEqual(identityProblems('x.deb', control({ Package: 'hello-doc', Source: 'hello (1.0-1)', Version: '1.0-1', Architecture: 'all' }), want), [], 'Source: name (version)');
});

test('publish guard - each field that is not what the package declares is named', () => {
  const p = identityProblems('b.deb', control({ Package: 'hello-kiln', Version: '9.9.9', Architecture: 'arm64' }), { source: 'b', version: '2.0.0', arch: 'amd64' });
  assert.deepEqual(p, [
    'b.deb declares Package: hello-kiln, which is not a binary of b (b)',
    'b.deb declares Source: hello-kiln, not b',
    'b.deb declares Version: 9.9.9, not the declared 2.0.0',
    'b.deb declares Architecture: arm64, not amd64 or all',
  ]);
  const other = identityProblems('x.deb', control({ Package: 'hello-extra', Source: 'hello', Version: '1.0-1', Architecture: 'amd64' }), want);
  assert.deepEqual(other, ['x.deb declares Package: hello-extra, which is not a binary of hello (hello, hello-doc)']);
  const hostile = identityProblems('x.deb', control({ Package: 'a\u001b[2Jb', Source: 'hello', Version: '1.0-1', Architecture: 'amd64' }), want);
  assert.match(hostile[0], /Package: a\\u001b\[2Jb,/, 'control values are shown escaped');
});

test('publish guard - the binaries a debian/control declares, source paragraph skipped', () => {
  const text = 'Source: hello\nBuild-Depends: debhelper-compat (= 13)\n\nPackage: hello\nArchitecture: any\n\n# a comment\nPackage: hello-doc\nArchitecture: all\n\r\nPackage: Bad Name\n';
  assert.deepEqual(parseDeclaredBinaries(text), ['hello', 'hello-doc']);
  assert.deepEqual(parseDeclaredBinaries('Source: only\n'), []);
});

test('publish guard - an artifact name a result cannot carry fails the build; a valid one changes nothing', () => {
  const ok = { outcome: 'succeeded' as const };
  assert.equal(nameVerdict(ok, ['/w/hello_1.0_amd64.deb']), ok);
  const bad = nameVerdict(ok, ['/w/hello kiln.deb', '/w/.hidden.deb']);
  assert.equal(bad.failureClass, 'build');
  assert.match(bad.reason ?? '', /"hello kiln\.deb", "\.hidden\.deb"/);
  const failed = { outcome: 'failed' as const, failureClass: 'build' as const, reason: 'exit 2' };
  assert.equal(nameVerdict(failed, ['/w/a b']), failed, 'a failed build keeps its own reason');
});

test('publish guard - a release record keeps the rejections of builds it does not publish, one per version', () => {
  const r = (version: string, key: string, reason = 'r') => ({ name: 'x', version, builds: { amd64: key.repeat(64) }, reason, at: 't' });
  const content = [{ name: 'x', version: '1.0', builds: { amd64: 'a'.repeat(64) } }];
  assert.deepEqual(keptRejections([r('1.0', 'b', 'old')], [r('1.0', 'c', 'new')], content), [r('1.0', 'c', 'new')], 'newest per version');
  assert.deepEqual(keptRejections([r('1.0', 'a')], [], content), [], 'a rejected build now published is forgotten');
  assert.deepEqual(keptRejections([r('2.0', 'b')], [], content), [r('2.0', 'b')]);
});

test('publish guard - the indexes a Release lists, and the text an InRelease signs', () => {
  const release = `Origin: o\nSHA256:\n ${'a'.repeat(64)}              120 main/binary-amd64/Packages\n ${'b'.repeat(64)}               99 main/binary-amd64/Packages.gz\n`;
  assert.deepEqual([...releaseIndexes(release)], [['main/binary-amd64/Packages', 120], ['main/binary-amd64/Packages.gz', 99]]);
  const signed = `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: o\n- -dash\n-----BEGIN PGP SIGNATURE-----\n\nxyz\n-----END PGP SIGNATURE-----\n`;
  assert.equal(inReleaseBody(signed), 'Origin: o\n-dash');
  assert.equal(inReleaseBody('Origin: o\n'), undefined);
});

test('publish guard - a missing stream or consumer is told apart from other NATS errors', () => {
  assert.ok(isMissingTopology(Object.assign(new Error('stream not found'), { name: 'StreamNotFoundError' })));
  assert.ok(isMissingTopology(new Error('consumer not found')));
  assert.ok(isMissingTopology(Object.assign(new Error('jetstream is not enabled'), { name: 'JetStreamNotEnabled' })));
  assert.equal(isMissingTopology(Object.assign(new Error('timeout'), { name: 'TimeoutError' })), false);
});
