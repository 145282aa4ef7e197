// debian/control at a package's pinned commit, read without a checkout from
// local and smart-HTTP (git http-backend) sources, and what readDesired makes of it.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { readDesired } from '../../reconciler/desired/read-desired.ts';
import { defaultControlReader } from '../../reconciler/desired/source-control.ts';
import { InvalidMetadataError } from '../../schema/errors.ts';
import { startGitServer } from '../helpers/git-server.ts';
import { commitFiles, makeRepo } from '../helpers/git.ts';

type T = { after: (fn: () => Promise<void>) => void };

async function workdir(t: T): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-control-test-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

async function repoAt(dir: string, files: Record<string, string>) {
  await mkdir(dir, { recursive: true });
  return makeRepo(files, { dir });
}

const LIB_CONTROL = 'Source: libkilnhello\nBuild-Depends: debhelper-compat (= 13)\n\nPackage: libkilnhello1\nArchitecture: any\n\nPackage: libkilnhello-dev\nArchitecture: any\n';
const APP_CONTROL = 'Source: kilnhello\nBuild-Depends: debhelper-compat (= 13),\n libkilnhello-dev (>= 1.1)\n\nPackage: kilnhello\nArchitecture: any\n';
const DIST = 'name: testing\nformat: apt\nsuite: testing\narchitectures: [amd64]\n';
const pkgYaml = (name: string, git: string, extra = '') => `name: ${name}\nversion: 1.1-1\nsource:\n  git: ${git}\n  ref: main\nformat: deb\narchitectures: [amd64]\nrelease: [testing]\n${extra}`;

test('desired control - readDesired reads binaries and Build-Depends at the pinned commit; buildFrom comes from package, pool or defaults', async (t) => {
  const root = await workdir(t);
  await repoAt(join(root, 'lib'), { 'debian/control': LIB_CONTROL });
  await repoAt(join(root, 'mono'), { 'app/debian/control': APP_CONTROL });
  const meta = await repoAt(join(root, 'meta'), {
    'kiln.yaml': 'pools:\n  deb: {architectures: [amd64], buildFrom: testing}\n',
    'distributions/testing.yaml': DIST,
    'packages/libkilnhello.yaml': pkgYaml('libkilnhello', '../lib'),
    'packages/kilnhello.yaml': pkgYaml('kilnhello', '../mono').replace('ref: main\n', 'ref: main\n  subdir: app\n'),
  });
  const { state } = await readDesired({ dir: meta.dir, rev: 'HEAD', cache: {} });
  const lib = state.packages.get('libkilnhello')!;
  const app = state.packages.get('kilnhello')!;
  assert.deepEqual(lib.control, { ok: true, binaries: ['libkilnhello1', 'libkilnhello-dev'], buildDepends: [[{ name: 'debhelper-compat', version: { op: '=', version: '13' } }]] });
  assert.ok(app.control?.ok && app.control.buildDepends.some((r) => r[0].name === 'libkilnhello-dev' && r[0].version?.version === '1.1'));
  assert.equal(app.buildFrom, 'testing', 'inherited from the pool');

  await commitFiles(meta.dir, { 'packages/kilnhello.yaml': pkgYaml('kilnhello', '../lib', 'buildFrom: testin\n') });
  const err = await readDesired({ dir: meta.dir, rev: 'HEAD', cache: {} }).catch((e: unknown) => e);
  assert.ok(err instanceof InvalidMetadataError);
  assert.deepEqual(err.diagnostics.map((d) => [d.file, d.line, d.path]), [['packages/kilnhello.yaml', 9, '/buildFrom']]);
  assert.match(err.diagnostics[0].message, /buildFrom: no distribution named 'testin'.*testing/);
});

test('desired control - a Build-Depends that does not parse names repo, commit and line; that package only is affected', async (t) => {
  const root = await workdir(t);
  const bad = await repoAt(join(root, 'bad'), { 'debian/control': 'Source: bad\nBuild-Depends: debhelper,\n libfoo (>= )\n' });
  const read = defaultControlReader();
  const c = await read({ url: bad.dir, ref: 'main', commit: bad.commit });
  assert.equal(c.ok, false);
  assert.match(!c.ok ? c.message : '', new RegExp(`${bad.dir}.* at ${bad.commit.slice(0, 12)}: debian/control:2: Build-Depends: `));
});

test('desired control - smart-HTTP sources: a depth-1 fetch for the ref tip, a full fetch for an older pin, each commit read once', async (t) => {
  const root = await workdir(t);
  const src = await repoAt(join(root, 'served', 'lib.git'), { 'debian/control': LIB_CONTROL.replace('libkilnhello1', 'libkilnhello0') });
  const old = src.commit;
  const tip = await commitFiles(src.dir, { 'debian/control': LIB_CONTROL });
  const server = await startGitServer(join(root, 'served'));
  t.after(() => server.close());
  const url = `${server.url}/lib.git`;
  const read = defaultControlReader();
  const atTip = await read({ url, ref: 'main', commit: tip });
  assert.deepEqual(atTip.ok && atTip.binaries, ['libkilnhello1', 'libkilnhello-dev']);
  const atOld = await read({ url, ref: 'main', commit: old });
  assert.deepEqual(atOld.ok && atOld.binaries, ['libkilnhello0', 'libkilnhello-dev']);
  const byId = await read({ url, ref: old, commit: old, subdir: '.' });
  assert.deepEqual(byId.ok && byId.binaries, ['libkilnhello0', 'libkilnhello-dev'], 'a commit-id ref is fetched in full');
  const asked = server.requests.length;
  await read({ url, ref: 'main', commit: tip });
  assert.equal(server.requests.length, asked, 'a commit already read is not fetched again');
});
