// The dnf publisher refuses what it must not publish or sign, with real rpm
// files (the host's rpmbuild) and rpm's own reader: a crafted header whose NAME
// walks out of the repository (digests recomputed, `rpm -K` passes), an rpm of
// another declared package passed off as a subpackage, and a published file
// changed on disk before `kiln keys renew` signs it again.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import type { BuildResult } from '../../schema/messages.ts';
import { rpmFormat } from '../../reconciler/formats/rpm/rpm-format.ts';
import { publishDnf, type RpmInput } from '../../reconciler/publish/dnf/publish.ts';
import { resignDnf } from '../../reconciler/publish/dnf/resign.ts';
import { generateKey, loadSigner, type Signer } from '../../reconciler/signing/signer.ts';
import { renamedRpm, writeRpm, type WrittenRpm } from '../helpers/rpm.ts';

const run = promisify(execFile);

const input = (r: WrittenRpm, pkg: string, version = '1.0-1'): RpmInput => ({ name: r.name, sha256: r.sha256, size: r.size, path: r.path, package: pkg, version });

async function tree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true }).catch(() => [] as string[])).sort();
}

describe('dnf publish guard', () => {
  let dir = '';
  let signer: Signer;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-dnf-guard-'));
    signer = await loadSigner((await generateKey({ name: 'Guard', email: 'guard@kiln.invalid' })).privateKeyArmored);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('dnf publish - a header NAME that walks out of packages/ is refused; nothing written anywhere', async () => {
    const plain = await writeRpm(dir, { name: 'k-' + 'a'.repeat(78), version: '1.0-1' });
    // Where the crafted name points: a directory of the test's own, outside the repository.
    const outside = await mkdtemp(join(tmpdir(), 'kiln-dnf-outside-'));
    const up = '/..'.repeat(12);
    let name = `k-${up}${outside}/`;
    assert.ok(name.length < 80, 'the temp path is short enough for the same-length rewrite');
    name += 'Z'.repeat(80 - name.length);
    const evil = await renamedRpm(plain.path, join(dir, 'evil.rpm'), name);
    await run('rpm', ['-K', '--nosignature', evil.path]);
    assert.equal((await run('rpm', ['-qp', '--nosignature', '--qf', '%{NAME}', evil.path])).stdout, name);

    const root = join(dir, 'repos');
    await assert.rejects(
      publishDnf({ root, distribution: { name: 'testing' }, packages: [input(evil, 'k')], signer, now: new Date() }),
      (e: Error & { code?: string }) => e.code === 'KILN_PUBLISH_INPUT' && /evil\.rpm: the rpm header's NAME .* cannot be part of a file name/.test(e.message) && /nothing published/.test(e.message),
    );
    assert.deepEqual(await readdir(outside), []);
    assert.deepEqual((await tree(join(root, 'testing'))).filter((f) => !f.startsWith('.kiln')), []);
    await rm(outside, { recursive: true, force: true });

    // The collect-time guard says the same, so the build is recorded as failed, never as publishable.
    const bytes = await readFile(evil.path);
    // What artifactProblems reads of a result: its artifacts and the build's package, version, arch.
    const result = { artifacts: [{ name: 'evil.rpm', sha256: evil.sha256, size: evil.size }], inputs: { package: 'k', version: '1.0-1', arch: 'amd64' } } as unknown as BuildResult;
    const problems = await rpmFormat.artifactProblems(result, async () => bytes, { declared: new Map() });
    assert.equal(problems.length, 1, problems.join('\n'));
    assert.match(problems[0], /evil\.rpm: the rpm header's NAME .* cannot be part of a file name/);
  });

  test('dnf publish - a package cannot publish an rpm named after another declared package', async () => {
    const libs = await writeRpm(dir, { name: 'foo-libs', version: '1.0-1' });
    const libsDevel = await writeRpm(dir, { name: 'foo-libs-devel', version: '1.0-1' });
    const foo = await writeRpm(dir, { name: 'foo', version: '1.0-1' });
    const root = join(dir, 'shadow');
    for (const stolen of [libs, libsDevel]) {
      await assert.rejects(
        publishDnf({ root, distribution: { name: 'testing' }, packages: [input(foo, 'foo'), input(stolen, 'foo'), input(libs, 'foo-libs')], signer, now: new Date() }),
        (e: Error & { code?: string }) => e.code === 'KILN_PUBLISH_INPUT' && new RegExp(`names ${stolen.name.replace(/-1\.0-1\.noarch\.rpm$/, '')} 1\\.0-1 \\(foo-libs is a package of its own\\)`).test(e.message),
      );
    }
    assert.deepEqual((await tree(join(root, 'testing'))).filter((f) => !f.startsWith('.kiln')), []);
    // Its own subpackage stays allowed.
    const r = await publishDnf({ root, distribution: { name: 'testing' }, packages: [input(foo, 'foo'), input(libsDevel, 'foo-libs'), input(libs, 'foo-libs')], signer, now: new Date() });
    assert.equal(r.rpms.length, 3);
  });

  test('rpm collect guard - the same owner rule as the publisher: an rpm named after another declared rpm package is refused, its own subpackage is not', async () => {
    const libs = await writeRpm(dir, { name: 'foo-libs', version: '1.0-1' });
    const libsDevel = await writeRpm(dir, { name: 'foo-libs-devel', version: '1.0-1' });
    const bytes = new Map([[libs.sha256, await readFile(libs.path)], [libsDevel.sha256, await readFile(libsDevel.path)]]);
    const resultOf = (pkg: string, rpms: WrittenRpm[]) =>
      ({ artifacts: rpms.map((r) => ({ name: r.name, sha256: r.sha256, size: r.size })), inputs: { package: pkg, version: '1.0-1', arch: 'amd64' } }) as unknown as BuildResult;
    const read = async (a: { sha256: string }) => bytes.get(a.sha256)!;
    const declared = new Map([['foo', { format: 'rpm' as const }], ['foo-libs', { format: 'rpm' as const }], ['foo-libs-devel-docs', { format: 'deb' as const }]]);
    const problems = await rpmFormat.artifactProblems(resultOf('foo', [libs, libsDevel]), read, { declared });
    assert.deepEqual(problems, [
      'foo-libs-1.0-1.noarch.rpm: the header names package foo-libs, not foo or one of its subpackages (foo-libs is a package of its own)',
      'foo-libs-devel-1.0-1.noarch.rpm: the header names package foo-libs-devel, not foo or one of its subpackages (foo-libs is a package of its own)',
    ]);
    assert.deepEqual(await rpmFormat.artifactProblems(resultOf('foo-libs', [libs, libsDevel]), read, { declared }), [], 'its own subpackage');
    assert.deepEqual(await rpmFormat.artifactProblems(resultOf('foo', [libs, libsDevel]), read, { declared: new Map([['foo', { format: 'rpm' as const }]]) }), [], 'foo-libs undeclared: a subpackage of foo');
  });

  test('dnf renew - a published rpm changed on disk is refused; nothing signed again', async () => {
    const a = await writeRpm(dir, { name: 'kiln-renew-a', version: '1.0-1' });
    const b = await writeRpm(dir, { name: 'kiln-renew-b', version: '1.0-1' });
    const root = join(dir, 'renew');
    const repo = join(root, 'testing');
    const first = await publishDnf({ root, distribution: { name: 'testing' }, packages: [input(a, 'kiln-renew-a'), input(b, 'kiln-renew-b')], signer, now: new Date() });
    // A self-consistent rpm of the same name in place of the published one.
    const other = await writeRpm(await mkdtemp(join(dir, 'other-')), { name: 'kiln-renew-b', version: '1.0-1' });
    const target = join(repo, first.rpms.find((r) => r.file.includes('kiln-renew-b'))!.file);
    await writeFile(target, await readFile(other.path));
    const before = await Promise.all(first.rpms.map((r) => readFile(join(repo, r.file))));
    const repomd = await readFile(join(repo, 'repodata/repomd.xml'));
    const state = await readFile(join(repo, '.kiln/dnf-state.json'));

    const next = await loadSigner((await generateKey({ name: 'Next', email: 'next@kiln.invalid' })).privateKeyArmored);
    await assert.rejects(resignDnf(root, 'testing', next, new Date()), (e: Error & { code?: string }) => e.code === 'KILN_DIGEST_MISMATCH' && /kiln-renew-b-1\.0-1\.noarch\.rpm: expected sha256/.test(e.message));
    assert.deepEqual(await Promise.all(first.rpms.map((r) => readFile(join(repo, r.file)))), before);
    assert.deepEqual(await readFile(join(repo, 'repodata/repomd.xml')), repomd);
    assert.deepEqual(await readFile(join(repo, '.kiln/dnf-state.json')), state);
    assert.equal((await tree(repo)).filter((f) => /\.tmp|kiln-tmp/.test(f)).length, 0);
  });
});
