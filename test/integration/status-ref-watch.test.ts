// RefWatch against a real git repository: moves made by native git and by
// Kiln's compare-and-set are seen without waiting for the safety-net age.
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compareAndSwapRef } from '../../reconciler/status/ref-cas.ts';
import { RefWatch } from '../../reconciler/status/ref-watch.ts';
import { until } from '../helpers/until.ts';

const REF = 'refs/heads/kiln/status';
const HOUR = 3_600_000;

async function repo(): Promise<{ dir: string; gitdir: string; commit: (msg: string) => string }> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-refwatch-'));
  const git = (...args: string[]) => execFileSync('git', ['-C', dir, '-c', 'user.name=t', '-c', 'user.email=t@e', ...args], { encoding: 'utf8' }).trim();
  git('init', '-q', '-b', 'main');
  const commit = (msg: string) => {
    git('commit', '-q', '--allow-empty', '-m', msg);
    return git('rev-parse', 'HEAD');
  };
  return { dir, gitdir: join(dir, '.git'), commit };
}

test('ref watch - a ref created, moved by compare-and-set and by native git is read anew (no age fallback)', async (t) => {
  const { dir, gitdir, commit } = await repo();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const w = new RefWatch(gitdir, REF, HOUR);
  t.after(() => w.close());
  assert.equal(await w.read(), null, 'no kiln/status yet');

  const a = commit('a');
  await compareAndSwapRef(gitdir, REF, null, a);
  await until(async () => (await w.read()) === a, 10_000, 'the created ref');

  const b = commit('b');
  await compareAndSwapRef(gitdir, REF, a, b);
  await until(async () => (await w.read()) === b, 10_000, 'the ref moved by compare-and-set');

  const c = commit('c');
  execFileSync('git', ['-C', dir, 'update-ref', REF, c, b]);
  await until(async () => (await w.read()) === c, 10_000, 'the ref moved by git update-ref');

  // Packed: git pack-refs removes the loose file; the value is read from packed-refs.
  execFileSync('git', ['-C', dir, 'pack-refs', '--all']);
  await until(async () => (await w.read()) === c, 10_000, 'the packed ref');
  const d = commit('d');
  execFileSync('git', ['-C', dir, 'update-ref', REF, d, c]);
  await until(async () => (await w.read()) === d, 10_000, 'the ref moved after packing');
});

test('ref watch - invalidate() makes the very next read go to disk', async (t) => {
  const { dir, gitdir, commit } = await repo();
  t.after(() => rm(dir, { recursive: true, force: true }));
  const a = commit('a');
  await compareAndSwapRef(gitdir, REF, null, a);
  const w = new RefWatch(gitdir, REF, HOUR);
  t.after(() => w.close());
  assert.equal(await w.read(), a);
  const b = commit('b');
  // Written directly (no event can have been delivered yet: nothing awaited in between).
  await writeFile(join(gitdir, REF), b + '\n');
  w.invalidate();
  assert.equal(await w.read(), b);
});
