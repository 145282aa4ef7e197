// kiln init through the real CLI entry (node bin/kiln.js): real git repos out,
// valid for kiln validate and readDesired, wired to a real source repo.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { readDesired } from '../../reconciler/desired/read-desired.ts';
import { git } from '../helpers/git.ts';

const run = promisify(execFile);
const KILN = new URL('../../bin/kiln.js', import.meta.url).pathname;

async function kiln(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [KILN, ...args], { env: { ...process.env, KILN_LOG_LEVEL: 'warn' } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const x = e as { code: number; stdout: string; stderr: string };
    return { code: x.code, stdout: x.stdout, stderr: x.stderr };
  }
}

async function workdir(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-init-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('init - --example makes a metadata repo and a source repo, both committed on main, that validate', async (t) => {
  const root = await workdir(t);
  const dir = join(root, 'meta');
  const res = await kiln('init', '--example', dir, '--json');
  assert.equal(res.code, 0, res.stderr);
  const data = JSON.parse(res.stdout) as { metadataRepo: string; commit: string; sources: Array<{ name: string; path: string; commit: string }> };
  assert.equal(data.metadataRepo, dir);
  assert.deepEqual(
    data.sources.map((s) => [s.name, s.path]),
    ['hello-kiln', 'hello-kiln-image', 'hello-rpm', 'kiln-base', 'kilnhello', 'libkilnhello'].map((n) => [n, join(root, 'meta-sources', n)]),
    'one source repo per example package (hello-kiln, the package set, the two images, the rpm)',
  );
  const source = (name: string) => data.sources.find((x) => x.name === name)!;

  // Both are real git repos with one commit on main and a clean work tree.
  assert.equal(await git(dir, 'rev-parse', 'main'), data.commit);
  assert.equal(await git(dir, 'symbolic-ref', 'HEAD'), 'refs/heads/main');
  assert.equal(await git(dir, 'status', '--porcelain'), '');
  const srcDir = data.sources[0].path;
  assert.equal(await git(srcDir, 'rev-parse', 'main'), data.sources[0].commit);
  assert.equal(await git(srcDir, 'status', '--porcelain'), '');
  assert.match(await git(srcDir, 'ls-files', '-s', 'debian/rules'), /^100755 /, 'debian/rules stays executable');
  assert.equal(await git(srcDir, 'show', 'main:debian/source/format'), '3.0 (native)');

  const { state } = await readDesired({ dir, rev: 'HEAD', cache: {} });
  const hello = state.packages.get('hello-kiln')!;
  assert.equal(hello.source.git, '../meta-sources/hello-kiln');
  assert.equal(hello.source.url, srcDir);
  assert.equal(hello.source.commit, data.sources[0].commit);
  assert.deepEqual(hello.release, ['testing', 'stable']);
  assert.equal(state.distributions.get('stable')!.promoteFrom, 'testing');
  assert.equal(state.distributions.get('stable')!.gate, 'install-smoke');
  // The package file keeps the template's comments.
  assert.match(await readFile(join(dir, 'packages/hello-kiln.yaml'), 'utf8'), /# branch, tag or commit id/);

  const v = await kiln('validate', '--repo', dir);
  assert.equal(v.code, 0, v.stdout + v.stderr);
  assert.equal(v.stdout.trim(), `ok: 6 packages, 6 distributions at ${data.commit.slice(0, 12)}`);
  // The package set: kilnhello Build-Depends on libkilnhello's -dev binary, both built from testing.
  const app = state.packages.get('kilnhello')!;
  assert.equal(app.buildFrom, 'testing');
  assert.equal(app.source.commit, source('kilnhello').commit);
  assert.ok(app.control?.ok && app.control.buildDepends.some((r) => r.some((a) => a.name === 'libkilnhello-dev' && a.version?.version === '1.1')));
  const lib = state.packages.get('libkilnhello')!;
  assert.ok(lib.control?.ok && lib.control.binaries.includes('libkilnhello-dev'));

  // The images: kiln-base FROM the seeded Debian image (by tag, in the candidate registry), hello-kiln-image
  // FROM kiln-base with hello-kiln from stable; the registries on loopback ports picked by init (one each, free).
  const candidate = state.distributions.get('candidate')!;
  const production = state.distributions.get('production')!;
  assert.ok(candidate.format === 'registry' && production.format === 'registry');
  assert.match(candidate.url, /^127\.0\.0\.1:\d+$/);
  assert.match(production.url, /^127\.0\.0\.1:\d+$/);
  assert.notEqual(candidate.url, production.url);
  assert.ok(![candidate.url, production.url].some((u) => /:548[01]$/.test(u)), 'the template ports were replaced');
  assert.deepEqual([production.promoteFrom, production.gate], ['candidate', 'image-test']);
  const base = state.packages.get('kiln-base')!;
  assert.ok(base.format === 'oci');
  assert.deepEqual(base.from, { tag: `${candidate.url}/kiln/bookworm-buildd:latest` });
  assert.equal(base.source.commit, source('kiln-base').commit);
  const image = state.packages.get('hello-kiln-image')!;
  assert.ok(image.format === 'oci');
  assert.deepEqual([image.from, image.install, image.buildFrom, image.release], [{ package: 'kiln-base' }, ['hello-kiln'], 'stable', ['candidate', 'production']]);
  assert.match(await git(source('hello-kiln-image').path, 'show', 'main:Dockerfile'), /^FROM kiln-base$/m);

  // The rpm package: built in the rpm pool, released to a dnf repository and promoted through dnf's gate.
  const rpm = state.packages.get('hello-rpm')!;
  assert.deepEqual([rpm.format, rpm.pool, rpm.image, rpm.version, rpm.format === 'rpm' && rpm.spec], ['rpm', 'rpm', 'kiln/bookworm-rpm', '1.0.0-1', 'hello-rpm.spec']);
  assert.equal(rpm.source.commit, source('hello-rpm').commit);
  assert.deepEqual(rpm.release, ['rpm-testing', 'rpm-stable']);
  assert.deepEqual([state.distributions.get('rpm-stable')!.format, state.distributions.get('rpm-stable')!.promoteFrom], ['dnf', 'rpm-testing']);
  assert.deepEqual(Object.keys(state.config.pools).sort(), ['deb', 'oci', 'rpm']);
});

test('init - without --example: the commented layout, no packages, valid', async (t) => {
  const root = await workdir(t);
  const dir = join(root, 'plain');
  const res = await kiln('init', dir);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /created metadata repo/);
  assert.deepEqual((await git(dir, 'ls-files')).split('\n'), ['distributions/.gitkeep', 'keys/README.md', 'kiln.yaml', 'packages/.gitkeep']);
  assert.match(await readFile(join(dir, 'kiln.yaml'), 'utf8'), /^# kiln.yaml/);
  const v = await kiln('validate', '--repo', dir, '--json');
  assert.equal(v.code, 0);
  assert.deepEqual(JSON.parse(v.stdout), { ok: true, commit: await git(dir, 'rev-parse', 'HEAD'), worktree: false, uncommitted: [], packages: 0, distributions: 0, diagnostics: [] });
  await assert.rejects(stat(join(root, 'plain-sources')), { code: 'ENOENT' });
});

test('init - refuses a non-empty directory with exit 2 and touches nothing', async (t) => {
  const root = await workdir(t);
  const dir = join(root, 'busy');
  await mkdir(dir);
  await writeFile(join(dir, 'keep.txt'), 'mine');
  const res = await kiln('init', '--example', dir);
  assert.equal(res.code, 2);
  assert.match(res.stderr, /busy is not empty/);
  await assert.rejects(stat(join(dir, '.git')), { code: 'ENOENT' });
  await assert.rejects(stat(join(root, 'busy-sources')), { code: 'ENOENT' });
  assert.equal(await readFile(join(dir, 'keep.txt'), 'utf8'), 'mine');
});
