// readDesired against real repos: full and incremental reads agree, the cost
// follows the change, and source refs resolve through local and smart-HTTP git.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { evaluateDesired, readDesired } from '../../reconciler/desired/read-desired.ts';
import { defaultSourceResolver } from '../../reconciler/desired/source-resolver.ts';
import { InvalidMetadataError } from '../../schema/errors.ts';
import { startGitServer } from '../helpers/git-server.ts';
import { commitFiles, git, makeRepo as makeRepoIn, type Files } from '../helpers/git.ts';

/** makeRepo at a path that may not exist yet. */
async function makeRepo(files: Files, opts: { dir: string }) {
  await mkdir(opts.dir, { recursive: true });
  return makeRepoIn(files, opts);
}

type T = { after: (fn: () => Promise<void>) => void };

async function workdir(t: T): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-desired-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

const pkgYaml = (name: string, version: string, git: string, ref = 'main') =>
  `name: ${name}\nversion: ${version}\nsource:\n  git: ${git}\n  ref: '${ref}'\nformat: deb\narchitectures: [amd64]\nrelease: [testing]\n`;
const DIST = 'name: testing\nformat: apt\nsuite: testing\narchitectures: [amd64]\n';

async function fixture(t: T) {
  const root = await workdir(t);
  const src = await makeRepo({ 'debian/control': 'Source: a\n' }, { dir: join(root, 'src') });
  const files: Record<string, string> = { 'kiln.yaml': 'pools:\n  deb: {architectures: [amd64]}\n', 'distributions/testing.yaml': DIST, 'README.md': 'not metadata' };
  for (let i = 0; i < 20; i++) files[`packages/p${i}.yaml`] = pkgYaml(`p${i}`, `1.${i}-1`, '../src');
  const meta = await makeRepo(files, { dir: join(root, 'meta') });
  return { root, src, meta };
}

const plain = (s: Awaited<ReturnType<typeof readDesired>>['state']) => ({ ...s, packages: [...s.packages.entries()].sort(), distributions: [...s.distributions.entries()].sort() });

test('desired read - an incremental read re-reads only changed files and equals a full read', async (t) => {
  const { meta, src } = await fixture(t);
  const cache = {};
  const first = await evaluateDesired({ dir: meta.dir, rev: 'main', cache });
  assert.equal(first.reread, 22, 'kiln.yaml, 1 distribution, 20 packages (README ignored)');
  assert.equal(first.state!.packages.get('p3')!.source.commit, src.commit);
  assert.equal(first.state!.packages.get('p3')!.source.url, src.dir);

  await rm(join(meta.dir, 'packages/p7.yaml'));
  const c2 = await commitFiles(meta.dir, { 'packages/p3.yaml': pkgYaml('p3', '2.0-1', '../src'), 'packages/new.yaml': pkgYaml('new', '0.1-1', '../src') });
  const second = await evaluateDesired({ dir: meta.dir, rev: 'main', cache, previous: first.snapshot });
  assert.equal(second.commit, c2);
  assert.equal(second.reread, 2);
  assert.equal(second.state!.packages.get('p3')!.version, '2.0-1');
  assert.ok(second.state!.packages.has('new'));
  assert.ok(!second.state!.packages.has('p7'));
  const full = await readDesired({ dir: meta.dir, rev: 'main', cache: {} });
  assert.deepEqual(plain(second.state!), plain(full.state));
  // The previous snapshot is untouched (callers may still hold it).
  assert.equal(first.state!.packages.get('p3')!.version, '1.3-1');

  const same = await evaluateDesired({ dir: meta.dir, rev: c2, cache, previous: second.snapshot });
  assert.equal(same.reread, 0);
  assert.equal(same.state, second.state, 'the same commit returns the remembered state at once');
});

test('desired read - a change to kiln.yaml re-normalises unchanged packages', async (t) => {
  const { meta } = await fixture(t);
  const first = await readDesired({ dir: meta.dir, rev: 'HEAD', cache: {} });
  assert.equal(first.state.packages.get('p1')!.limits.memoryMiB, 2048);
  await commitFiles(meta.dir, { 'kiln.yaml': 'pools:\n  deb: {architectures: [amd64], limits: {memoryMiB: 512}}\n' });
  const ev = await evaluateDesired({ dir: meta.dir, rev: 'HEAD', cache: {}, previous: first.snapshot });
  assert.equal(ev.reread, 1);
  assert.equal(ev.state!.packages.get('p1')!.limits.memoryMiB, 512);
});

test('desired read - a broken commit throws every diagnostic, and the next good one reads from the last good snapshot', async (t) => {
  const { meta } = await fixture(t);
  const good = await readDesired({ dir: meta.dir, rev: 'HEAD', cache: {} });
  await commitFiles(meta.dir, { 'packages/p1.yaml': 'name: p1\nversion: [\n', 'packages/p2.yaml': pkgYaml('p2', 'bad version', '../src') });
  const err = await readDesired({ dir: meta.dir, rev: 'HEAD', cache: {}, previous: good.snapshot }).catch((e: unknown) => e);
  assert.ok(err instanceof InvalidMetadataError);
  assert.deepEqual(err.diagnostics.map((d) => d.file), ['packages/p1.yaml', 'packages/p2.yaml']);
  assert.match(err.message, /2 problems in the metadata repo at [0-9a-f]{12}/);
  await commitFiles(meta.dir, { 'packages/p1.yaml': pkgYaml('p1', '5-1', '../src'), 'packages/p2.yaml': pkgYaml('p2', '5-1', '../src') });
  const ev = await evaluateDesired({ dir: meta.dir, rev: 'HEAD', cache: {}, previous: good.snapshot });
  assert.equal(ev.reread, 2);
  assert.equal(ev.state!.packages.get('p2')!.version, '5-1');
});

test('desired read - source refs: branch, tag, short and full oid, file:// URL, bare repo; refreshSources follows a moved branch', async (t) => {
  const root = await workdir(t);
  const src = await makeRepo({ a: '1' }, { dir: join(root, 'src') });
  await git(src.dir, 'tag', '-a', 'v1', '-m', 'v1');
  await git(root, 'clone', '-q', '--bare', src.dir, join(root, 'bare.git'));
  const specs: Array<[string, string, string]> = [
    ['branch', '../src', 'main'],
    ['tag', '../src', 'v1'],
    ['short', '../src', src.commit.slice(0, 10)],
    ['full', '../src', src.commit],
    ['fileurl', `file://${src.dir}`, 'main'],
    ['bare', '../bare.git', 'v1'],
  ];
  const files: Record<string, string> = { 'distributions/testing.yaml': DIST };
  for (const [name, url, ref] of specs) files[`packages/${name}.yaml`] = pkgYaml(name, '1-1', url, ref);
  const meta = await makeRepo(files, { dir: join(root, 'meta') });
  const first = await readDesired({ dir: meta.dir, rev: 'HEAD', cache: {} });
  for (const [name] of specs) assert.equal(first.state.packages.get(name)!.source.commit, src.commit, name);
  assert.equal(first.state.packages.get('fileurl')!.source.url, src.dir);

  const moved = await commitFiles(src.dir, { a: '2' });
  const pinned = await evaluateDesired({ dir: meta.dir, rev: 'HEAD', cache: {}, previous: first.snapshot });
  assert.equal(pinned.state!.packages.get('branch')!.source.commit, src.commit, 'a snapshot pins refs by default');
  const fresh = await evaluateDesired({ dir: meta.dir, rev: 'HEAD', cache: {}, previous: first.snapshot, refreshSources: true });
  assert.equal(fresh.state!.packages.get('branch')!.source.commit, moved);
  assert.equal(fresh.state!.packages.get('tag')!.source.commit, src.commit);
  assert.equal(first.state.packages.get('branch')!.source.commit, src.commit, 'the old snapshot is not mutated');
});

test('desired read - smart-HTTP sources resolve through git http-backend without cloning', async (t) => {
  const root = await workdir(t);
  const src = await makeRepo({ a: '1' }, { dir: join(root, 'served', 'hello.git') });
  await git(src.dir, 'tag', '-a', 'v1', '-m', 'v1');
  const server = await startGitServer(join(root, 'served'));
  t.after(() => server.close());
  const resolve = defaultSourceResolver();
  assert.equal(await resolve(`${server.url}/hello.git`, 'main'), src.commit);
  assert.equal(await resolve(`${server.url}/hello.git`, 'v1'), src.commit, 'annotated tags are peeled');
  await assert.rejects(resolve(`${server.url}/hello.git`, 'nope'), (e: Error & { data: { missing?: string } }) => e.data.missing === 'ref');
  assert.ok(server.requests.some((r) => r.includes('info/refs')), 'the HTTP server was asked');

  const meta = await makeRepo({ 'distributions/testing.yaml': DIST, 'packages/web.yaml': pkgYaml('web', '1-1', `${server.url}/hello.git`, 'nope') }, { dir: join(root, 'meta') });
  const err = await readDesired({ dir: meta.dir, rev: 'HEAD', cache: {} }).catch((e: unknown) => e);
  assert.ok(err instanceof InvalidMetadataError);
  assert.deepEqual(err.diagnostics.map((d) => [d.file, d.line, d.col]), [['packages/web.yaml', 5, 8]]);
  assert.match(err.diagnostics[0].message, /source.ref: no branch or tag named 'nope'/);
});

test('desired read - an unreachable remote is a transient error, not invalid metadata', async (t) => {
  const root = await workdir(t);
  const meta = await makeRepo({ 'distributions/testing.yaml': DIST, 'packages/web.yaml': pkgYaml('web', '1-1', 'http://127.0.0.1:1/none.git') }, { dir: join(root, 'meta') });
  const err = await readDesired({ dir: meta.dir, rev: 'HEAD', cache: {} }).catch((e: unknown) => e);
  assert.equal((err as { code?: string }).code, 'KILN_SOURCE_RESOLVE');
  assert.equal((err as { kind?: string }).kind, 'transient');
});

test('desired read - an unknown revision is a NotFoundError', async (t) => {
  const { meta } = await fixture(t);
  await assert.rejects(readDesired({ dir: meta.dir, rev: 'no-such-branch', cache: {} }), { code: 'KILN_NOT_FOUND' });
});

test('desired read - a previous snapshot whose commit no longer exists falls back to a full read', async (t) => {
  const { meta } = await fixture(t);
  const first = await readDesired({ dir: meta.dir, rev: 'HEAD', cache: {} });
  const gone = { ...first.snapshot, commit: 'f'.repeat(40) };
  await commitFiles(meta.dir, { 'packages/p1.yaml': pkgYaml('p1', '9-1', '../src') });
  const ev = await evaluateDesired({ dir: meta.dir, rev: 'HEAD', cache: {}, previous: gone });
  assert.equal(ev.reread, 22);
  assert.equal(ev.state!.packages.get('p1')!.version, '9-1');
});

test('desired read - tree entries of the wrong type in the layout are errors naming the path', async (t) => {
  const root = await workdir(t);
  const meta = await makeRepo({ 'distributions/testing.yaml': DIST, 'packages/dir.yaml/x': 'x\n', keys: 'not a directory\n' }, { dir: join(root, 'meta') });
  await git(meta.dir, 'update-index', '--add', '--cacheinfo', `160000,${'a'.repeat(40)},kiln.yaml`);
  await git(meta.dir, 'commit', '-q', '-m', 'gitlink');
  const ev = await evaluateDesired({ dir: meta.dir, rev: 'HEAD', cache: {} });
  assert.equal(ev.state, undefined);
  const errors = ev.diagnostics.filter((d) => d.severity === 'error').map((d) => `${d.file}: ${d.message}`);
  assert.deepEqual(errors, [
    'keys: keys must be a directory, not a file',
    'kiln.yaml: git submodules are not allowed in the metadata repo',
    'packages/dir.yaml/x: packages/dir.yaml must be a file, not a directory',
  ]);
});

test('desired read - a full commit id is checked, local and over smart HTTP: missing or a tree is an error, a tag object is peeled', async (t) => {
  const root = await workdir(t);
  const src = await makeRepo({ a: '1' }, { dir: join(root, 'served', 'hello.git') });
  const old = src.commit;
  await commitFiles(src.dir, { a: '2' }); // `old` is no longer a branch tip: only a clone can vouch for it
  await git(src.dir, 'tag', '-a', 'v1', '-m', 'v1', old);
  const tagObject = await git(src.dir, 'rev-parse', 'v1');
  const tree = await git(src.dir, 'rev-parse', `${old}^{tree}`);
  const missing = 'f'.repeat(40);
  const server = await startGitServer(join(root, 'served'));
  t.after(() => server.close());
  for (const [where, url] of [['local', src.dir], ['http', `${server.url}/hello.git`]]) {
    const resolve = defaultSourceResolver();
    assert.equal(await resolve(url, old), old, `${where}: an old commit`);
    assert.equal(await resolve(url, tagObject), old, `${where}: a tag object is peeled to its commit`);
    await assert.rejects(resolve(url, missing), (e: Error & { data: { missing?: string } }) => e.data.missing === 'ref' && /f{40}/.test(e.message), `${where}: missing`);
    await assert.rejects(resolve(url, tree), (e: Error & { data: { missing?: string } }) => e.data.missing === 'ref' && /names a tree/.test(e.message), `${where}: a tree`);
  }
  const files: Files = { 'distributions/testing.yaml': DIST };
  for (const [name, ref] of [['gone', missing], ['tree', tree]]) files[`packages/${name}.yaml`] = pkgYaml(name, '1-1', `${server.url}/hello.git`, ref);
  const meta = await makeRepo(files, { dir: join(root, 'meta') });
  const ev = await evaluateDesired({ dir: meta.dir, rev: 'HEAD', cache: {} });
  assert.equal(ev.state, undefined);
  assert.deepEqual(ev.diagnostics.map((d) => [d.file, d.line, d.col, d.path]), [['packages/gone.yaml', 5, 8, '/source/ref'], ['packages/tree.yaml', 5, 8, '/source/ref']]);
  assert.match(ev.diagnostics[0].message, /^source.ref: no commit f{40} in http/);
  assert.match(ev.diagnostics[1].message, /^source.ref: [0-9a-f]{40} names a tree in http.*, not a commit/);
});

test('desired read - refreshSources asks again only for refs that can move (a full commit id cannot)', async (t) => {
  const root = await workdir(t);
  const src = await makeRepo({ a: '1' }, { dir: join(root, 'src') });
  const meta = await makeRepo({ 'distributions/testing.yaml': DIST, 'packages/pinned.yaml': pkgYaml('pinned', '1-1', '../src', src.commit), 'packages/branch.yaml': pkgYaml('branch', '1-1', '../src', 'main') }, { dir: join(root, 'meta') });
  const asked: string[] = [];
  const real = defaultSourceResolver();
  const resolveSource = (url: string, ref: string) => (asked.push(ref), real(url, ref));
  const first = await readDesired({ dir: meta.dir, rev: 'HEAD', cache: {}, resolveSource });
  assert.deepEqual(asked.sort(), [src.commit, 'main'].sort());
  asked.length = 0;
  const again = await evaluateDesired({ dir: meta.dir, rev: 'HEAD', cache: {}, previous: first.snapshot, refreshSources: true, resolveSource });
  assert.deepEqual(asked, ['main']);
  assert.equal(again.state!.packages.get('pinned')!.source.commit, src.commit);
});
