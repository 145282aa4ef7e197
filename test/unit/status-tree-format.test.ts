import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { compareEntries, encodeTree, groupChanges, mergeEntries, pathProblem, sameEntries, type TreeEntry } from '../../reconciler/status/tree-format.ts';

const oid = (c: string) => c.repeat(40);

test('status tree - changes are grouped by directory', () => {
  const g = groupChanges(new Map([['builds/a.yaml', oid('1')], ['builds/b.yaml', null], ['gates/stable/x.yaml', oid('2')], ['top', oid('3')]]));
  assert.deepEqual([...g.files], [['top', oid('3')]]);
  assert.deepEqual([...g.dirs.keys()], ['builds', 'gates']);
  assert.deepEqual([...g.dirs.get('builds')!.files], [['a.yaml', oid('1')], ['b.yaml', null]]);
  assert.deepEqual([...g.dirs.get('gates')!.dirs.get('stable')!.files], [['x.yaml', oid('2')]]);
});

test("status tree - entries sort in git's order (a tree sorts as if its name ended in '/')", () => {
  const entries: TreeEntry[] = [
    { mode: '40000', path: 'a', oid: oid('1') },
    { mode: '100644', path: 'a.b', oid: oid('2') },
    { mode: '100644', path: 'a-c', oid: oid('3') },
  ];
  // 'a-' (0x2d) < 'a.' (0x2e) < 'a/' (0x2f)
  assert.deepEqual([...entries].sort(compareEntries).map((e) => e.path), ['a-c', 'a.b', 'a']);
});

test('status tree - merging sets, replaces and deletes files, and drops emptied subtrees', () => {
  const base: TreeEntry[] = [
    { mode: '040000', path: 'builds', oid: oid('1') },
    { mode: '100644', path: 'keep', oid: oid('2') },
    { mode: '100644', path: 'old', oid: oid('3') },
    { mode: '040000', path: 'gates', oid: oid('4') },
  ];
  const merged = mergeEntries(base, new Map([['old', null], ['new', oid('5')], ['keep', oid('6')]]), new Map([['builds', oid('7')], ['gates', null]]));
  assert.deepEqual(merged, [
    { mode: '40000', path: 'builds', oid: oid('7') },
    { mode: '100644', path: 'keep', oid: oid('6') },
    { mode: '100644', path: 'new', oid: oid('5') },
  ]);
  assert.ok(sameEntries(mergeEntries(base, new Map(), new Map()), [...base].sort(compareEntries)));
});

test('status tree - a file and a directory cannot share a name', () => {
  const base: TreeEntry[] = [{ mode: '40000', path: 'builds', oid: oid('1') }, { mode: '100644', path: 'f', oid: oid('2') }];
  assert.throws(() => mergeEntries(base, new Map([['builds', oid('3')]]), new Map()), { code: 'KILN_INVALID_STATUS_CHANGE' });
  assert.throws(() => mergeEntries(base, new Map(), new Map([['f', oid('3')]])), { code: 'KILN_INVALID_STATUS_CHANGE' });
});

test('status tree - tree objects hash like git (empty tree and a one-file tree)', () => {
  const hash = (body: Buffer) => createHash('sha1').update(Buffer.concat([Buffer.from(`tree ${body.length}\0`), body])).digest('hex');
  assert.equal(hash(encodeTree([])), '4b825dc642cb6eb9a060e54bf8d69288fbee4904');
  // `printf 'hello\n' | git hash-object --stdin` = ce01362..., and `git mktree` of it as hello.txt:
  const t = encodeTree([{ mode: '100644', path: 'hello.txt', oid: 'ce013625030ba8dba906f756967f9e9ca394464a' }]);
  assert.equal(hash(t), 'aaa96ced2d9a1c8e72c56b253a0e2fe78393feb7');
});

test('status tree - unsafe paths are refused', () => {
  for (const p of ['', '/abs', 'dir/', 'a//b', '../x', 'a/./b', '.git/config', 'a\\b', 'a\0b']) assert.ok(pathProblem(p), `accepted ${JSON.stringify(p)}`);
  for (const p of ['builds/x.yaml', 'signatures/abc.asc', 'gates/stable/hello_1.0.yaml']) assert.equal(pathProblem(p), undefined);
});
