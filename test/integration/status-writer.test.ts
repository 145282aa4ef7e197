// The status branch writer and reader against real git repositories; status
// commit signatures are checked by gpg through `git verify-commit`.
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { readdir, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import type { BuildRecord } from '../../schema/status.ts';
import { generateKey, loadSigner, type Signer } from '../../reconciler/signing/signer.ts';
import { readObserved } from '../../reconciler/status/reader.ts';
import { buildRecordFile, checkRecordFile, releaseRecordFile, serializeRecord } from '../../reconciler/status/records.ts';
import { recordPass, type StatusChange } from '../../reconciler/status/writer.ts';
import { GIT_ENV, git, makeRepo } from '../helpers/git.ts';
import { makeGpgHome, type GpgHome } from '../helpers/gpg.ts';

const run = promisify(execFile);
let signer: Signer;
let gpg: GpgHome;

before(async () => {
  const key = await generateKey({ name: 'Kiln Test Reconciler', email: 'reconciler@kiln.invalid' });
  signer = await loadSigner(key.privateKeyArmored);
  gpg = await makeGpgHome(key.publicKeyArmored);
});
after(async () => {
  await gpg.dispose();
});

function build(n: number, desired: string, state: BuildRecord['state'] = 'queued'): BuildRecord {
  return {
    key: n.toString(16).padStart(64, '0'),
    inputs: {
      package: `pkg${n % 7}`,
      version: `1.${n}`,
      source: { url: 'https://git.example/p.git', commit: 'c'.repeat(40) },
      recipe: { format: 'deb', rebuild: 0 },
      image: 'kiln/bookworm-debhelper',
      arch: 'amd64',
      target: 'stable',
    },
    pool: 'default',
    state,
    attempts: [{ n: 1, dispatchedAt: '2026-01-01T00:00:00Z' }],
    desiredCommit: desired,
  };
}

function change(records: BuildRecord[], desired: string, extra: [string, string | null][] = []): StatusChange {
  return {
    files: new Map([...records.map(buildRecordFile), ...extra]),
    summary: `record ${records.length} builds`,
    trailers: { 'Kiln-Desired': desired, 'Kiln-Builds': records.length },
  };
}

async function repo(t: { after: (fn: () => Promise<void>) => void }) {
  const r = await makeRepo({ 'kiln.yaml': 'trust: {}\n', 'packages/hello.yaml': 'name: hello\n' });
  t.after(() => rm(r.dir, { recursive: true, force: true }));
  return r;
}

async function looseObjects(dir: string): Promise<Set<string>> {
  const out = new Set<string>();
  const root = join(dir, '.git', 'objects');
  for (const fan of await readdir(root)) {
    if (!/^[0-9a-f]{2}$/.test(fan)) continue;
    for (const f of await readdir(join(root, fan))) out.add(fan + f);
  }
  return out;
}

/** Commit `files` onto kiln/status with native git plumbing (another writer), never touching the index. */
function nativeStatusCommit(dir: string, files: Record<string, string>, message = 'native writer'): string {
  const env = { ...process.env, ...GIT_ENV, GIT_INDEX_FILE: join(dir, '.git', 'kiln-test-index') };
  const g = (args: string[], input?: string) => execFileSync('git', args, { cwd: dir, env, input }).toString().trim();
  const parent = g(['rev-parse', '--verify', '-q', 'refs/heads/kiln/status']);
  g(['read-tree', parent]);
  for (const [path, content] of Object.entries(files)) {
    const blob = g(['hash-object', '-w', '--stdin'], content);
    g(['update-index', '--add', '--cacheinfo', `100644,${blob},${path}`]);
  }
  const tree = g(['write-tree']);
  const commit = g(['commit-tree', tree, '-p', parent, '-m', message]);
  g(['update-ref', 'refs/heads/kiln/status', commit, parent]);
  execFileSync('rm', ['-f', env.GIT_INDEX_FILE]);
  return commit;
}

test('status writer - a pass writes one signed commit that git verify-commit and git log --show-signature accept', async (t) => {
  const { dir, commit: desired } = await repo(t);
  const indexBefore = await stat(join(dir, '.git', 'index'));
  const release = releaseRecordFile({ distribution: 'stable', desiredCommit: desired, packages: [{ name: 'hello', version: '1.0', builds: { amd64: build(1, desired).key } }] });
  const res = await recordPass({ dir, cache: {}, signer, build: () => change([build(1, desired), build(2, desired)], desired, [release]) });

  assert.ok(res.commit);
  // The index file was not rewritten (checked before any git command that refreshes it).
  assert.equal((await stat(join(dir, '.git', 'index'))).mtimeMs, indexBefore.mtimeMs);
  assert.equal(await git(dir, 'rev-parse', 'refs/heads/kiln/status'), res.commit);
  assert.equal(await git(dir, 'rev-list', '--count', 'kiln/status'), '1', 'a root commit');
  const verify = await gpg.verifyCommit(dir, 'kiln/status');
  assert.ok(verify.ok, verify.stderr);
  assert.match(verify.stderr, /Good signature from "Kiln Test Reconciler <reconciler@kiln.invalid>"/);
  const log = await gpg.git(dir, 'log', '--show-signature', '-1', 'kiln/status');
  assert.match(log.stdout, /Good signature/);
  assert.equal((await git(dir, 'fsck', '--strict', '--no-dangling')).trim(), '');

  // Message: summary, blank line, trailers with Kiln-Desired first.
  assert.equal(await git(dir, 'log', '-1', '--format=%s', 'kiln/status'), 'record 2 builds');
  assert.equal(await git(dir, 'log', '-1', '--format=%(trailers:key=Kiln-Desired,valueonly)', 'kiln/status'), desired);
  assert.equal(await git(dir, 'log', '-1', '--format=%(trailers:key=Kiln-Builds,valueonly)', 'kiln/status'), '2');
  assert.match(await git(dir, 'log', '-1', '--format=%(trailers)', 'kiln/status'), /^Kiln-Desired: /);

  // HEAD, index and work tree untouched.
  assert.equal(await git(dir, 'rev-parse', 'HEAD'), desired);
  assert.equal(await git(dir, 'symbolic-ref', 'HEAD'), 'refs/heads/main');
  assert.equal(await git(dir, 'status', '--porcelain'), '');

  // The reader reads back exactly what was written (fresh cache, full read).
  const read = await readObserved({ dir, cache: {} });
  assert.equal(read.stats.mode, 'full');
  assert.equal(read.state.statusCommit, res.commit);
  assert.equal(read.state.desiredCommit, desired);
  assert.deepEqual(read.state.builds, new Map([[build(1, desired).key, build(1, desired)], [build(2, desired).key, build(2, desired)]]));
  assert.equal(read.state.releases.get('stable')?.packages[0].version, '1.0');
  assert.deepEqual(read.state, res.observed);
  // What git stores is the canonical serialisation.
  assert.equal(await git(dir, 'show', `kiln/status:builds/${build(1, desired).key}.yaml`), serializeRecord(build(1, desired)).trimEnd());
});

test('status writer - only changed blobs and trees are written; untouched subtrees keep their oids', async (t) => {
  const { dir, commit: desired } = await repo(t);
  const cache = {};
  const seed = Array.from({ length: 200 }, (_, i) => build(i, desired));
  const check = checkRecordFile({ commit: desired, verdict: 'trusted', at: '2026-01-01T00:00:00Z' });
  const rel = releaseRecordFile({ distribution: 'stable', desiredCommit: desired, packages: [] });
  const first = await recordPass({ dir, cache, signer, build: () => change(seed, desired, [check, rel]) });

  const before = await looseObjects(dir);
  const second = await recordPass({
    dir,
    cache,
    signer,
    previous: first.snapshot,
    build: () => change([build(500, desired), build(3, desired, 'succeeded')], desired),
  });
  const added = [...(await looseObjects(dir))].filter((o) => !before.has(o));
  const types = await Promise.all(added.map((o) => git(dir, 'cat-file', '-t', o)));
  // 2 blobs (one new record, one changed), the builds/ tree, the root tree, the commit.
  assert.deepEqual(types.sort(), ['blob', 'blob', 'commit', 'tree', 'tree']);
  assert.equal(await git(dir, 'rev-parse', 'kiln/status~1:releases'), await git(dir, 'rev-parse', 'kiln/status:releases'));
  assert.equal(await git(dir, 'rev-parse', 'kiln/status~1:checks'), await git(dir, 'rev-parse', 'kiln/status:checks'));
  assert.equal(await git(dir, 'rev-parse', 'kiln/status~1'), first.commit);
  assert.equal(second.observed.builds.size, 201);
  assert.equal(second.observed.builds.get(build(3, desired).key)?.state, 'succeeded');
  assert.equal((await git(dir, 'ls-tree', '--name-only', 'kiln/status', 'builds/')).split('\n').length, 201);
});

test('status reader - an incremental read re-reads only the changed records and agrees with a full read', async (t) => {
  const { dir, commit: desired } = await repo(t);
  const cache = {};
  const first = await recordPass({ dir, cache, signer, build: () => change(Array.from({ length: 50 }, (_, i) => build(i, desired)), desired) });
  const r0 = await readObserved({ dir, cache, previous: first.snapshot });
  assert.deepEqual(r0.stats, { mode: 'unchanged', filesRead: 0 });
  assert.equal(r0.snapshot, first.snapshot);

  // Another writer (native git) changes two records and deletes one.
  const [p7] = buildRecordFile(build(7, desired));
  nativeStatusCommit(dir, Object.fromEntries([buildRecordFile(build(60, desired)), buildRecordFile(build(8, desired, 'failed'))]));
  const env = { ...process.env, ...GIT_ENV, GIT_INDEX_FILE: join(dir, '.git', 'tmp-index-2') };
  const parent = await git(dir, 'rev-parse', 'kiln/status');
  await run('git', ['read-tree', parent], { cwd: dir, env });
  await run('git', ['update-index', '--remove', '--force-remove', p7], { cwd: dir, env });
  const tree = (await run('git', ['write-tree'], { cwd: dir, env })).stdout.trim();
  const del = (await run('git', ['commit-tree', tree, '-p', parent, '-m', 'delete one'], { cwd: dir, env })).stdout.trim();
  await git(dir, 'update-ref', 'refs/heads/kiln/status', del, parent);

  const incr = await readObserved({ dir, cache, previous: first.snapshot });
  assert.equal(incr.stats.mode, 'incremental');
  assert.equal(incr.stats.filesRead, 2);
  const full = await readObserved({ dir, cache: {} });
  assert.equal(full.stats.filesRead, 50);
  assert.deepEqual(incr.state.builds, full.state.builds);
  assert.equal(incr.state.builds.size, 50);
  assert.equal(incr.state.builds.get(build(8, desired).key)?.state, 'failed');
  assert.ok(!incr.state.builds.has(build(7, desired).key));
  assert.equal(first.snapshot.state.builds.size, 50, 'the previous snapshot is not mutated');
  assert.ok(first.snapshot.state.builds.has(build(7, desired).key));
});

test('status writer - when the branch moves mid-pass, build runs again on the fresh state and both updates survive', async (t) => {
  const { dir, commit: desired } = await repo(t);
  const cache = {};
  const first = await recordPass({ dir, cache, signer, build: () => change([build(1, desired)], desired) });
  let calls = 0;
  let native = '';
  const seen: number[] = [];
  const res = await recordPass({
    dir,
    cache,
    signer,
    previous: first.snapshot,
    delay: async () => undefined,
    build: (observed) => {
      calls++;
      seen.push(observed.builds.size);
      // First call: another writer commits between our read and our ref update.
      if (calls === 1) native = nativeStatusCommit(dir, Object.fromEntries([buildRecordFile(build(2, desired))]));
      return change([build(3, desired)], desired);
    },
  });
  assert.equal(calls, 2);
  assert.deepEqual(seen, [1, 2], 'the retry saw the other writer’s record');
  assert.equal(res.attempts, 2);
  assert.equal(await git(dir, 'rev-parse', 'kiln/status'), res.commit);
  assert.equal(await git(dir, 'rev-parse', 'kiln/status~1'), native);
  assert.equal(await git(dir, 'rev-parse', 'kiln/status~2'), first.commit);
  const names = (await git(dir, 'ls-tree', '--name-only', 'kiln/status', 'builds/')).split('\n');
  assert.deepEqual(names, [1, 2, 3].map((n) => `builds/${build(n, desired).key}.yaml`));
  assert.equal(res.observed.builds.size, 3);
  assert.ok((await gpg.verifyCommit(dir, 'kiln/status')).ok);
});

test('status writer - nothing to write makes no commit', async (t) => {
  const { dir, commit: desired } = await repo(t);
  const cache = {};
  const first = await recordPass({ dir, cache, signer, build: () => change([build(1, desired)], desired) });
  const none = await recordPass({ dir, cache, signer, previous: first.snapshot, build: () => null });
  assert.equal(none.commit, null);
  const same = await recordPass({ dir, cache, signer, previous: first.snapshot, build: () => change([build(1, desired)], desired) });
  assert.equal(same.commit, null, 'rewriting an identical record is not a change');
  assert.equal(await git(dir, 'rev-parse', 'kiln/status'), first.commit);
  assert.equal(await git(dir, 'rev-list', '--count', 'kiln/status'), '1');
});

test('status writer - an invalid record or path is refused and nothing changes', async (t) => {
  const { dir, commit: desired } = await repo(t);
  const cache = {};
  const first = await recordPass({ dir, cache, signer, build: () => change([build(1, desired)], desired) });
  const before = await looseObjects(dir);
  const bad = serializeRecord(build(2, desired)).replace('state: queued', 'state: exploded');
  await assert.rejects(
    recordPass({ dir, cache, signer, build: () => change([], desired, [[`builds/${build(2, desired).key}.yaml`, bad]]) }),
    (e: Error & { code?: string }) => e.code === 'KILN_INVALID_STATUS_CHANGE' && /builds\/0+2\.yaml:\d+: \/state/.test(e.message),
  );
  await assert.rejects(recordPass({ dir, cache, signer, build: () => change([], desired, [['../escape', 'x']]) }), { code: 'KILN_INVALID_STATUS_CHANGE' });
  await assert.rejects(recordPass({ dir, cache, signer, build: () => ({ ...change([build(3, desired)], desired), summary: 'two\nlines' }) }), {
    code: 'KILN_INVALID_STATUS_CHANGE',
  });
  assert.equal(await git(dir, 'rev-parse', 'kiln/status'), first.commit);
  assert.deepEqual(await looseObjects(dir), before, 'no objects written');
});

test('status reader - a corrupt record is reported with its path and the others are read', async (t) => {
  const { dir, commit: desired } = await repo(t);
  await recordPass({ dir, cache: {}, signer, build: () => change([build(1, desired), build(2, desired)], desired) });
  const badPath = `builds/${'f'.repeat(64)}.yaml`;
  nativeStatusCommit(dir, { [badPath]: 'key: [unclosed\n', 'releases/stable.yaml': 'distribution: stable\n' });
  const read = await readObserved({ dir, cache: {} });
  assert.equal(read.state.builds.size, 2);
  assert.equal(read.state.releases.size, 0);
  assert.equal(read.state.desiredCommit, desired, 'a head commit without trailers does not forget the last desired commit');
  const paths = read.problems.map((p) => p.path).sort();
  assert.deepEqual(paths, [badPath, 'releases/stable.yaml']);
  assert.match(read.problems.find((p) => p.path === 'releases/stable.yaml')!.message, /missing field 'desiredCommit'/);
  // The next pass still writes; it may even repair the bad file.
  const fixed = await recordPass({ dir, cache: {}, signer, previous: read.snapshot, build: () => change([], desired, [[badPath, null]]) });
  assert.ok(fixed.commit);
  assert.deepEqual(fixed.snapshot.problems.size, 1);
});

test('status reader - no status branch yet is an empty state', async (t) => {
  const { dir } = await repo(t);
  const read = await readObserved({ dir, cache: {} });
  assert.equal(read.stats.mode, 'empty');
  assert.equal(read.state.statusCommit, undefined);
  assert.equal(read.state.builds.size, 0);
});

test('status writer - works in a bare repository (a mirror), and git verifies the commit there', async (t) => {
  const { dir: src, commit: desired } = await repo(t);
  const bare = `${src}.git`;
  t.after(() => rm(bare, { recursive: true, force: true }));
  await git(src, 'clone', '-q', '--bare', src, bare);
  const first = await recordPass({ dir: bare, cache: {}, signer, build: () => change([build(1, desired)], desired) });
  const second = await recordPass({ dir: bare, cache: {}, signer, build: () => change([build(2, desired)], desired) });
  assert.equal(await git(bare, 'rev-parse', 'kiln/status~1'), first.commit);
  assert.equal(await git(bare, 'rev-parse', 'kiln/status'), second.commit);
  assert.ok((await gpg.verifyCommit(bare, 'kiln/status')).ok);
  const read = await readObserved({ dir: bare, cache: {} });
  assert.equal(read.state.builds.size, 2);
});

test('status ref - a branch packed by git pack-refs is read and moved, and git agrees', async (t) => {
  const { dir, commit: desired } = await repo(t);
  const first = await recordPass({ dir, cache: {}, signer, build: () => change([build(1, desired)], desired) });
  await git(dir, 'pack-refs', '--all');
  await assert.rejects(stat(join(dir, '.git', 'refs', 'heads', 'kiln', 'status')), { code: 'ENOENT' });
  const read = await readObserved({ dir, cache: {} });
  assert.equal(read.state.statusCommit, first.commit);
  const second = await recordPass({ dir, cache: {}, signer, build: () => change([build(2, desired)], desired) });
  assert.equal(await git(dir, 'rev-parse', 'kiln/status'), second.commit);
  assert.equal(await git(dir, 'rev-parse', 'kiln/status~1'), first.commit);
  assert.equal((await git(dir, 'fsck', '--no-dangling')).trim(), '');
});

test('status ref - a held lock is never stolen: the writer retries, then gives up leaving lock and ref as they were', async (t) => {
  const { dir, commit: desired } = await repo(t);
  const first = await recordPass({ dir, cache: {}, signer, build: () => change([build(1, desired)], desired) });
  const lock = join(dir, '.git', 'refs', 'heads', 'kiln', 'status.lock');
  await writeFile(lock, 'held by someone else\n');
  let delays = 0;
  await assert.rejects(
    recordPass({ dir, cache: {}, signer, maxAttempts: 3, delay: async () => void delays++, build: () => change([build(2, desired)], desired) }),
    (e: Error & { code?: string }) => e.code === 'KILN_REF_LOCKED' && e.message.includes('status.lock'),
  );
  assert.equal(delays, 2);
  assert.equal(await git(dir, 'rev-parse', 'kiln/status'), first.commit);
  assert.equal((await import('node:fs')).readFileSync(lock, 'utf8'), 'held by someone else\n');
  // Native git honours the same lock.
  await assert.rejects(git(dir, 'update-ref', 'refs/heads/kiln/status', desired));
});

test('status ref - a lock left by a killed writer (older than staleLockMs) is broken and the pass goes through', async (t) => {
  const { dir, commit: desired } = await repo(t);
  const first = await recordPass({ dir, cache: {}, signer, build: () => change([build(1, desired)], desired) });
  const lock = join(dir, '.git', 'refs', 'heads', 'kiln', 'status.lock');
  await writeFile(lock, '');
  const old = new Date(Date.now() - 60_000);
  await utimes(lock, old, old);
  const res = await recordPass({ dir, cache: {}, signer, build: () => change([build(2, desired)], desired) });
  assert.equal(res.attempts, 1);
  assert.equal(await git(dir, 'rev-parse', 'kiln/status'), res.commit);
  assert.equal(await git(dir, 'rev-parse', 'kiln/status~1'), first.commit);
  await assert.rejects(stat(lock), { code: 'ENOENT' });
  assert.deepEqual((await readdir(join(dir, '.git', 'refs', 'heads', 'kiln'))).sort(), ['status']);
});

