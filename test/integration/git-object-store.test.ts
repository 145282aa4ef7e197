// kiln-test: long (scripts/test starts it first, so the run does not end waiting on it)
// The object store (reconciler/git/object-store.ts) against native git: after random
// edit sequences (with reverts and renames), some history repacked into deltified packs and
// some left loose, every object reads back byte for byte as `git cat-file` prints it,
// also when a repack adds a pack after the store's first look.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { test } from 'node:test';
import { objectStore } from '../../reconciler/git/object-store.ts';
import { commitFiles, git, makeRepo, type Files } from '../helpers/git.ts';
import { seededRandom } from '../helpers/seeded.ts';

const run = promisify(execFile);

/** Every object in the repo with its type and content, as native git reads them. */
async function nativeObjects(dir: string): Promise<Map<string, { type: string; body: Buffer }>> {
  const list = (await git(dir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname) %(objecttype)')).split('\n').filter(Boolean);
  const out = new Map<string, { type: string; body: Buffer }>();
  for (const line of list) {
    const [oid, type] = line.split(' ');
    const { stdout } = await run('git', ['cat-file', type, oid], { cwd: dir, encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
    out.set(oid, { type, body: stdout });
  }
  return out;
}

/** Random edits: new files, changed lines (so packs deltify), reverts to an earlier content, renames, deletes. */
async function randomHistory(dir: string, random: () => number, commits: number, files: Map<string, string>, history: string[]): Promise<void> {
  const pick = <T>(xs: T[]) => xs[Math.floor(random() * xs.length)];
  for (let c = 0; c < commits; c++) {
    const change: Files = {};
    const op = random();
    const names = [...files.keys()];
    if (op < 0.3 || names.length < 3) {
      const name = `packages/p${Math.floor(random() * 1000)}.yaml`;
      const body = Array.from({ length: 20 + Math.floor(random() * 200) }, (_, i) => `line ${i}: ${Math.floor(random() * 1e6)}`).join('\n');
      change[name] = body;
    } else if (op < 0.6) {
      const name = pick(names);
      const lines = files.get(name)!.split('\n');
      lines[Math.floor(random() * lines.length)] = `edited ${Math.floor(random() * 1e9)}`;
      change[name] = lines.join('\n');
    } else if (op < 0.75 && history.length) {
      change[pick(names)] = pick(history); // a revert to content seen before
    } else if (op < 0.9) {
      const from = pick(names);
      const to = `packages/renamed-${Math.floor(random() * 1e6)}.yaml`;
      await rename(join(dir, from), join(dir, to));
      files.set(to, files.get(from)!);
      files.delete(from);
    } else {
      const name = pick(names);
      await rm(join(dir, name));
      files.delete(name);
    }
    for (const [k, v] of Object.entries(change)) {
      files.set(k, String(v));
      history.push(String(v));
    }
    await commitFiles(dir, change, `edit ${c}`);
  }
}

async function assertSame(dir: string, cache: object): Promise<number> {
  const store = objectStore(dir, cache);
  const expected = await nativeObjects(dir);
  for (const [oid, want] of expected) {
    const got = await store.read(oid);
    assert.equal(got.type, want.type, `type of ${oid}`);
    assert.ok(got.body.equals(want.body), `content of ${oid} (${want.type})`);
  }
  // The promise-free read of packed objects: the same bytes, and nothing but packed objects.
  await store.ready();
  const loose = new Set((await run('find', ['.', '-path', './objects/??/*', '-type', 'f'], { cwd: join(dir, '.git') })).stdout.split('\n').filter(Boolean).map((p) => p.slice(10, 12) + p.slice(13)));
  let found = 0;
  for (const [oid, want] of expected) {
    const got = store.packedWithin(oid);
    if (!got) {
      assert.ok(loose.has(oid), `${oid} is not loose (so packed) but packedWithin did not find it`);
      continue;
    }
    found++;
    assert.ok(got.type === want.type && got.size === want.body.length && got.body?.equals(want.body), `packed ${oid}`);
  }
  assert.ok(found > 0, 'some objects were read from packs');
  return expected.size;
}

test('git object store - reads every object as native git does after random edits, packed with deltas and loose', async (t) => {
  const { random } = seededRandom(t);
  const { dir } = await makeRepo({ 'kiln.yaml': 'pools: {}\n' });
  try {
    const files = new Map<string, string>();
    const history: string[] = [];
    await randomHistory(dir, random, 40, files, history);
    await git(dir, 'repack', '-adf', '--depth=20', '--window=50'); // deltified pack (OFS_DELTA chains)
    await randomHistory(dir, random, 20, files, history); // loose on top
    const cache = {};
    const n = await assertSame(dir, cache);
    assert.ok(n > 60);
    // A new pack appears after the store's first scan (and the loose objects it packed are pruned).
    await randomHistory(dir, random, 15, files, history);
    await git(dir, 'repack', '-ad', '--depth=20');
    await git(dir, 'prune-packed');
    await assertSame(dir, cache);
    // A fresh cache reads the same answers as the long-lived one.
    await assertSame(dir, {});
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('git object store - an incremental pack on top of another and size-bounded loose reads', async () => {
  const { dir } = await makeRepo({ 'a.txt': 'x'.repeat(5000) + '\n' });
  try {
    await git(dir, 'repack', '-ad');
    const big = 'y'.repeat(300_000);
    await commitFiles(dir, { 'a.txt': 'x'.repeat(5000) + '\nmore\n', 'big.txt': big });
    const store = objectStore(dir, {});
    const bigOid = await git(dir, 'rev-parse', 'HEAD:big.txt');
    const bounded = await store.readWithin(bigOid, 1000);
    assert.deepEqual({ type: bounded.type, size: bounded.size, body: bounded.body }, { type: 'blob', size: 300_000, body: undefined });
    assert.equal((await store.readWithin(bigOid, 300_000)).body?.toString(), big);
    // An incremental pack of the new objects only: git may deltify them against the old pack's objects.
    await git(dir, 'repack', '-d');
    await assertSame(dir, {});
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
