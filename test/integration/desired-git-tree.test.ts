// reconciler/git/tree.ts against real repositories made with native git.
import assert from 'node:assert/strict';
import { chmod, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { blobSize, diffCommits, listFiles, readBlobText, readBlobWithin, resolveCommit } from '../../reconciler/git/tree.ts';
import { commitFiles, git, makeRepo } from '../helpers/git.ts';

async function repo(t: { after: (fn: () => Promise<void>) => void }, files: Record<string, string>) {
  const r = await makeRepo(files);
  t.after(() => rm(r.dir, { recursive: true, force: true }));
  return r;
}

test('git tree - resolveCommit takes branch, HEAD, lightweight and annotated tags, full and short oids', async (t) => {
  const { dir, commit } = await repo(t, { 'a.txt': 'a' });
  await git(dir, 'tag', 'light');
  await git(dir, 'tag', '-a', 'annotated', '-m', 'v1');
  for (const rev of ['main', 'HEAD', 'refs/heads/main', 'light', 'annotated', commit, commit.slice(0, 8)]) {
    assert.equal(await resolveCommit(dir, rev), commit, rev);
  }
  await assert.rejects(resolveCommit(dir, 'nope'), (e: Error) => e.name === 'NotFoundError' && /nope/.test(e.message));
  await assert.rejects(resolveCommit(dir, 'f'.repeat(40)), { name: 'NotFoundError' });
});

test('git tree - listFiles gives blobs with modes, symlinks and submodules, filtered by prefix', async (t) => {
  const { dir } = await repo(t, { 'kiln.yaml': 'x', 'packages/a.yaml': 'a', 'packages/sub/b.yaml': 'b', 'other/c': 'c', 'packagesX/d': 'd' });
  await symlink('/etc/passwd', join(dir, 'packages/link.yaml'));
  // A submodule entry (gitlink) without a .gitmodules checkout: enough for the tree to hold mode 160000.
  await git(dir, 'add', 'packages/link.yaml');
  await git(dir, 'update-index', '--add', '--cacheinfo', `160000,${'a'.repeat(40)},packages/mod`);
  await git(dir, 'commit', '-q', '-m', 'links');
  const commit = await git(dir, 'rev-parse', 'HEAD');
  const cache = {};
  const all = await listFiles(dir, commit, cache);
  assert.deepEqual(all.map((f) => f.path), ['kiln.yaml', 'other/c', 'packages/a.yaml', 'packages/link.yaml', 'packages/mod', 'packages/sub/b.yaml', 'packagesX/d']);
  const some = await listFiles(dir, commit, cache, { prefixes: ['packages', 'kiln.yaml'] });
  assert.deepEqual(
    some.map((f) => [f.path, f.mode]),
    [['kiln.yaml', '100644'], ['packages/a.yaml', '100644'], ['packages/link.yaml', '120000'], ['packages/mod', '160000'], ['packages/sub/b.yaml', '100644']],
  );
  assert.equal(await readBlobText(dir, some[0].oid, cache), 'x');
});

test('git tree - diffCommits reports add, modify, delete and mode changes only under prefixes', async (t) => {
  const { dir, commit: c1 } = await repo(t, { 'kiln.yaml': 'x', 'packages/a.yaml': 'a', 'packages/b.yaml': 'b', 'dir/x': '1', 'other/big/z': 'z' });
  await rm(join(dir, 'packages/b.yaml'));
  await rm(join(dir, 'dir'), { recursive: true });
  const c2 = await commitFiles(dir, { 'packages/a.yaml': 'a2', 'packages/new/c.yaml': 'c', dir: 'now a file', 'other/big/z': 'z2' });
  const cache = {};
  const changes = await diffCommits(dir, c1, c2, cache, { prefixes: ['packages', 'dir', 'kiln.yaml'] });
  assert.deepEqual(
    changes.map((c) => [c.path, c.change]),
    [['dir', 'add'], ['dir/x', 'delete'], ['packages/a.yaml', 'modify'], ['packages/b.yaml', 'delete'], ['packages/new/c.yaml', 'add']],
  );
  assert.equal(await readBlobText(dir, changes.find((c) => c.path === 'packages/a.yaml')!.oid!, cache), 'a2');
  assert.deepEqual(await diffCommits(dir, c2, c2, cache), []);
  await chmod(join(dir, 'kiln.yaml'), 0o755);
  const c3 = await commitFiles(dir, {}, 'chmod');
  const [kiln] = await listFiles(dir, c3, cache, { prefixes: ['kiln.yaml'] });
  assert.deepEqual(await diffCommits(dir, c2, c3, cache), [{ path: 'kiln.yaml', change: 'modify', oid: kiln.oid, mode: '100755' }]);
});

test('git tree - blobSize and readBlobWithin read sizes and bounded contents of loose and packed blobs', async (t) => {
  const big = 'y'.repeat(300_000) + '\n';
  const { dir, commit } = await repo(t, { 'big.yaml': big, 'small.yaml': 'a: 1\n' });
  const cache = {};
  const sizes = async () => Object.fromEntries(await Promise.all((await listFiles(dir, commit, cache)).map(async (f) => [f.path, await blobSize(dir, f.oid, cache)])));
  const within = async () =>
    Object.fromEntries(
      await Promise.all((await listFiles(dir, commit, cache)).map(async (f) => {
        const r = await readBlobWithin(dir, f.oid, cache, 1000);
        return [f.path, [r.size, r.bytes === undefined ? null : Buffer.from(r.bytes).toString()]];
      })),
    );
  assert.deepEqual(await sizes(), { 'big.yaml': big.length, 'small.yaml': 5 });
  assert.deepEqual(await within(), { 'big.yaml': [big.length, null], 'small.yaml': [5, 'a: 1\n'] });
  await git(dir, 'gc', '-q');
  assert.deepEqual(await sizes(), { 'big.yaml': big.length, 'small.yaml': 5 });
  assert.deepEqual(await within(), { 'big.yaml': [big.length, null], 'small.yaml': [5, 'a: 1\n'] }, 'packed objects too');
});

test('git tree - readBlobWithin refuses an object that is not a blob (a tree or commit id from a hostile tree entry)', async (t) => {
  const { dir, commit } = await repo(t, { 'd/a.txt': 'a' });
  const tree = await git(dir, 'rev-parse', 'HEAD:d');
  await assert.rejects(readBlobWithin(dir, tree, {}, 1024), (e: Error) => e.name === 'NotFoundError' && /is a tree, not a file/.test(e.message));
  await assert.rejects(readBlobWithin(dir, commit, {}, 1024), /is a commit, not a file/);
  await git(dir, 'gc', '-q');
  await assert.rejects(readBlobWithin(dir, tree, {}, 1024), /is a tree, not a file/, 'packed too');
});
