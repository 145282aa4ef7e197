// reconciler/git/tree.ts against real repositories made with native git.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { blobSize, diffCommits, indexOfByte, listFiles, readBlobText, readBlobWithin, resolveCommit } from '../../reconciler/git/tree.ts';
import { commitFiles, git, makeRepo } from '../helpers/git.ts';
import { seededRandom } from '../helpers/seeded.ts';

/** git with bytes on stdin (hash-object of hand-made objects). */
function run(cmd: string, args: string[], opts: { cwd: string; input: string | Buffer }): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = execFile(cmd, args, { cwd: opts.cwd }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
    p.stdin!.end(opts.input);
  });
}

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
  for (const empty of ['', '/']) assert.deepEqual(await listFiles(dir, commit, cache, { prefixes: [empty] }), all, `prefix '${empty}' is the whole tree`);
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
  assert.deepEqual(await diffCommits(dir, c1, c2, cache, { prefixes: [''] }), await diffCommits(dir, c1, c2, cache), "prefix '' is the whole tree, as in listFiles");
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

test('git tree - diffCommits equals git diff-tree -r over random edits (a file and a directory of one name, names that sort around "/")', async (t) => {
  const { random, seed } = seededRandom(t);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const NAMES = ['a', 'a.b', 'a-b', 'a0', 'ab', 'a/b', 'a/c', 'a.b/c', 'b', 'b/a/c', 'b/a', 'b.c', 'p/x', 'p/y', 'p/z/w'];
  const { dir } = await repo(t, { 'p/x': 'x' });
  const cache = {};
  let before = await git(dir, 'rev-parse', 'HEAD');
  for (let step = 0; step < 25; step++) {
    for (let k = 0, n = 1 + Math.floor(random() * 4); k < n; k++) {
      const path = pick(NAMES);
      if (random() < 0.3) await rm(join(dir, path), { recursive: true, force: true }).catch(() => undefined); // ENOTDIR: a file where a directory was
      else {
        // Whatever stands in the way (a file where a directory goes, or the reverse) goes first.
        const parts = path.split('/');
        for (let i = 1; i <= parts.length; i++) {
          const p = join(dir, ...parts.slice(0, i));
          const s = await stat(p).catch(() => undefined);
          if (s && (i < parts.length ? !s.isDirectory() : s.isDirectory())) await rm(p, { recursive: true, force: true });
        }
        await mkdir(join(dir, ...parts.slice(0, -1)), { recursive: true });
        await writeFile(join(dir, path), `${path} ${step} ${k} ${random()}`);
      }
    }
    await git(dir, 'add', '-A');
    await git(dir, 'commit', '-q', '--allow-empty', '-m', `step ${step}`);
    const after = await git(dir, 'rev-parse', 'HEAD');
    const native = (await git(dir, 'diff-tree', '-r', '--no-renames', before, after))
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [meta, path] = line.split('\t');
        const [, mode, , oid, status] = meta.split(' ');
        return status === 'D' ? { path, change: 'delete' } : { path, change: status === 'A' ? 'add' : 'modify', oid, mode };
      })
      .sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
    assert.deepEqual(await diffCommits(dir, before, after, cache), native, `seed ${seed} step ${step}`);
    before = after;
  }
});

test('git tree - diffCommits reads a tree that is not in git order by name (a hostile tree cannot hide a change)', async (t) => {
  const { dir } = await repo(t, { 'keep': 'k' });
  const oid = async (text: string) => (await run('git', ['hash-object', '-w', '--stdin'], { cwd: dir, input: text })).trim();
  const entry = (name: string, hex: string) => Buffer.concat([Buffer.from(`100644 ${name}\0`), Buffer.from(hex, 'hex')]);
  const tree = async (entries: Buffer[]) => (await run('git', ['hash-object', '-w', '-t', 'tree', '--literally', '--stdin'], { cwd: dir, input: Buffer.concat(entries) })).trim();
  const [x, y, z] = [await oid('x'), await oid('y'), await oid('z')];
  const sorted = await tree([entry('a', x), entry('b', y)]);
  const unsorted = await tree([entry('b', z), entry('a', x)]); // b changed, listed first
  const cache = {};
  assert.deepEqual(await diffCommits(dir, sorted, unsorted, cache), [{ path: 'b', change: 'modify', oid: z, mode: '100644' }]);
  assert.deepEqual(await diffCommits(dir, unsorted, sorted, cache), [{ path: 'b', change: 'modify', oid: y, mode: '100644' }]);
  // The same bytes at the start and the end of both trees are skipped unread; the order is still checked around them.
  const three = await tree([entry('a', x), entry('b', y), entry('c', z)]);
  const swapped = await tree([entry('a', x), entry('c', y), entry('b', y), entry('d', z)]);
  assert.deepEqual(await diffCommits(dir, three, swapped, cache), [
    { path: 'c', change: 'modify', oid: y, mode: '100644' },
    { path: 'd', change: 'add', oid: z, mode: '100644' },
  ]);
});

test('git tree - the byte-loop search finds what Buffer indexOf finds, on seeded random tree-like bytes', (t) => {
  const { random } = seededRandom(t);
  for (let n = 0; n < 5000; n++) {
    const body = Buffer.from(Array.from({ length: Math.floor(random() * 40) }, () => (random() < 0.15 ? 0 : random() < 0.2 ? 32 : Math.floor(random() * 256))));
    const from = Math.floor(random() * (body.length + 4)) - 2;
    for (const byte of [0, 32]) assert.equal(indexOfByte(body, byte, from), body.indexOf(byte, from), `${body.toString('hex')} ${byte} from ${from}`);
  }
});
