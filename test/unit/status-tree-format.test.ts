import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { compareEntries, encodeTree, groupChanges, mergeEntries, mergeTreeBytes, pathProblem, type TreeEntry } from '../../reconciler/status/tree-format.ts';
import { seededRandom } from '../helpers/seeded.ts';

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
  assert.deepEqual(mergeEntries(base, new Map(), new Map()), [...base].map((e) => ({ ...e, mode: e.mode === '040000' ? '40000' : e.mode })).sort(compareEntries));
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
  for (const p of ['', '/abs', 'dir/', 'a//b', '../x', 'a/./b', '.git/config', 'a\\b', 'a\0b', 'a\ud800b', 'x/\udc00']) assert.ok(pathProblem(p), `accepted ${JSON.stringify(p)}`);
  for (const p of ['builds/x.yaml', 'signatures/abc.asc', 'gates/stable/hello_1.0.yaml', 'x/\u{1f600}.yaml']) assert.equal(pathProblem(p), undefined);
});

test('status tree - merging on raw tree bytes gives the bytes of encodeTree(mergeEntries(…)), conflicts refused alike, on random trees and changes', (t) => {
  const { random } = seededRandom(t);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(random() * xs.length)];
  // Few short names around '/' in byte order ('-' < '.' < '/' < '0'), and a two-byte one: prefixes, clashes and git's tree order.
  // U+FF01 and U+1F600: JavaScript's string order puts the second first, git's byte order the first.
  const chars = ['a', 'b', '-', '.', '0', 'é', '\uff01', '\u{1f600}'];
  const name = () => Array.from({ length: 1 + Math.floor(random() * 3) }, () => pick(chars)).join('');
  const anOid = () => Array.from({ length: 40 }, () => pick([...'0123456789abcdef'])).join('');
  for (let round = 0; round < 2000; round++) {
    const byName = new Map<string, TreeEntry>();
    for (let k = Math.floor(random() * 12); k > 0; k--) {
      const n = name();
      byName.set(n, { mode: pick(['100644', '100755', '40000']), path: n, oid: anOid() });
    }
    const base = [...byName.values()].sort(compareEntries);
    const changes = () => new Map(Array.from({ length: Math.floor(random() * 5) }, () => [name(), random() < 0.3 ? null : anOid()] as [string, string | null]));
    const [files, subtrees] = [changes(), random() < 0.5 ? new Map<string, string | null>() : changes()];
    let expected: Buffer | { code: string };
    try {
      expected = encodeTree(mergeEntries(base, files, subtrees));
    } catch (e) {
      expected = { code: (e as { code: string }).code };
    }
    let actual: Buffer | { code: string };
    try {
      actual = mergeTreeBytes(encodeTree(base), files, subtrees);
    } catch (e) {
      actual = { code: (e as { code: string }).code };
    }
    const show = JSON.stringify({ base, files: [...files], subtrees: [...subtrees] });
    if (Buffer.isBuffer(expected) && Buffer.isBuffer(actual)) {
      assert.ok(actual.equals(expected), show);
      assert.ok(inByteOrder(actual), `not in git's order: ${show}`);
    }
    else assert.deepEqual(actual, expected, show);
  }
});

/** Whether a tree's entries are in git's order on their own terms: each key's bytes (a tree's with '/') after the last's. */
function inByteOrder(tree: Buffer): boolean {
  let last: Buffer | undefined;
  for (let i = 0; i < tree.length; ) {
    const space = tree.indexOf(32, i);
    const nul = tree.indexOf(0, space);
    const key = Buffer.concat([tree.subarray(space + 1, nul), tree.toString('latin1', i, space) === '40000' ? Buffer.from('/') : Buffer.alloc(0)]);
    if (last && Buffer.compare(last, key) >= 0) return false;
    last = key;
    i = nul + 21;
  }
  return true;
}

test('status tree - a file deleted and a directory of its name added in one change is no clash', () => {
  const base = [{ mode: '100644', path: 'x', oid: oid('1') }];
  const expected = encodeTree([{ mode: '40000', path: 'x', oid: oid('2') }]);
  assert.ok(encodeTree(mergeEntries(base, new Map([['x', null]]), new Map([['x', oid('2')]]))).equals(expected));
  assert.ok(mergeTreeBytes(encodeTree(base), new Map([['x', null]]), new Map([['x', oid('2')]])).equals(expected));
});

test('status tree - merging raw bytes with no change gives the same bytes back', () => {
  const base = encodeTree([{ mode: '40000', path: 'a', oid: oid('1') }, { mode: '100755', path: 'b', oid: oid('2') }]);
  assert.ok(mergeTreeBytes(base, new Map(), new Map()).equals(base));
  assert.ok(mergeTreeBytes(base, new Map([['b', oid('3')]]), new Map()).equals(encodeTree([{ mode: '40000', path: 'a', oid: oid('1') }, { mode: '100755', path: 'b', oid: oid('3') }])), 'an executable keeps its mode');
});
