// Source fetch with isomorphic-git from real git repositories: the exported
// tree is exactly the pinned commit's (modes, symlinks), the source repo is untouched.
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { fetchSource } from '../../agents/fetch-source.ts';
import { SourceResolveError } from '../../schema/errors.ts';
import { quietLog } from '../fixtures/agent-jobs.ts';
import { startGitServer } from '../helpers/git-server.ts';
import { commitFiles, git, makeRepo } from '../helpers/git.ts';

test('agent fetch-source - exports the pinned commit (not HEAD) with exec bits and symlinks; the repo is untouched', async (t) => {
  const repo = await makeRepo({ 'pkg/run.sh': '#!/bin/sh\necho hi\n', 'pkg/data.txt': 'v1\n', 'top.txt': 'top\n' });
  await chmod(join(repo.dir, 'pkg/run.sh'), 0o755);
  await symlink('data.txt', join(repo.dir, 'pkg/link'));
  const pinned = await commitFiles(repo.dir, {}, 'exec bit and symlink');
  await commitFiles(repo.dir, { 'pkg/data.txt': 'v2 (after the pin)\n' }, 'later');
  const before = await git(repo.dir, 'status', '--porcelain');
  const headBefore = await git(repo.dir, 'rev-parse', 'HEAD');
  const out = await mkdtemp(join(tmpdir(), 'kiln-fetch-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  t.after(() => rm(repo.dir, { recursive: true, force: true }));

  const src = await fetchSource({ url: pathToFileURL(repo.dir).href, commit: pinned.slice(0, 12), subdir: 'pkg' }, join(out, 'src'), join(out, 'scratch'), quietLog);
  assert.equal(src.commit, pinned, 'short id expanded to the pinned commit');
  assert.equal(src.buildDir, join(out, 'src', 'pkg'));
  assert.equal(await readFile(join(src.buildDir, 'data.txt'), 'utf8'), 'v1\n');
  assert.equal((await lstat(join(src.buildDir, 'run.sh'))).mode & 0o111, 0o111);
  assert.equal((await lstat(join(src.buildDir, 'data.txt'))).mode & 0o111, 0);
  assert.equal(await readlink(join(src.buildDir, 'link')), 'data.txt');
  assert.equal(src.files, 4);
  assert.equal(await git(repo.dir, 'status', '--porcelain'), before);
  assert.equal(await git(repo.dir, 'rev-parse', 'HEAD'), headBefore);
});

test('agent fetch-source - a missing subdir or commit is a SourceResolveError naming it', async (t) => {
  const repo = await makeRepo({ 'a.txt': 'a\n' });
  const out = await mkdtemp(join(tmpdir(), 'kiln-fetch-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  t.after(() => rm(repo.dir, { recursive: true, force: true }));
  await assert.rejects(
    fetchSource({ url: repo.dir, commit: repo.commit, subdir: 'nope' }, join(out, 's1'), join(out, 'x1'), quietLog),
    (e: unknown) => e instanceof SourceResolveError && /subdir 'nope' does not exist/.test(e.message),
  );
  await assert.rejects(
    fetchSource({ url: repo.dir, commit: 'main' }, join(out, 's2'), join(out, 'x2'), quietLog),
    (e: unknown) => e instanceof SourceResolveError && /'main' is not a hex commit id/.test(e.message),
  );
  await assert.rejects(
    fetchSource({ url: join(out, 'not-a-repo'), commit: repo.commit }, join(out, 's3'), join(out, 'x3'), quietLog),
    (e: unknown) => e instanceof SourceResolveError && /is not a git repository/.test(e.message),
  );
});

test('agent fetch-source - remote clones are cached: fetched only for a new commit, rebuilt when broken', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'kiln-fetch-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, 'served', 'r'), { recursive: true });
  const repo = await makeRepo({ 'a.txt': 'one\n' }, { dir: join(root, 'served', 'r') });
  const server = await startGitServer(join(root, 'served'));
  t.after(() => server.close());
  const url = `${server.url}/r/.git`;
  const cacheDir = join(root, 'cache');
  let n = 0;
  const fetchInto = (commit: string) => fetchSource({ url, commit }, join(root, `out${++n}`), join(root, `scratch${n}`), quietLog, { cacheDir });

  const c1 = await fetchInto(repo.commit);
  assert.equal(await readFile(join(c1.dir, 'a.txt'), 'utf8'), 'one\n');
  const afterClone = server.requests.length;
  assert.ok(afterClone > 0);

  await fetchInto(repo.commit);
  assert.equal(server.requests.length, afterClone, 'cache hit: no HTTP at all');

  const second = await commitFiles(repo.dir, { 'a.txt': 'two\n' });
  const c2 = await fetchInto(second);
  assert.equal(await readFile(join(c2.dir, 'a.txt'), 'utf8'), 'two\n');
  assert.ok(server.requests.slice(afterClone).some((q) => q.includes('git-upload-pack')), 'fetched the new commit');

  // A clone cut short by a kill: objects gone. The next job re-clones instead of failing.
  const [cloneDir] = await readdir(cacheDir);
  await rm(join(cacheDir, cloneDir, 'git', 'objects'), { recursive: true, force: true });
  const third = await commitFiles(repo.dir, { 'a.txt': 'three\n' });
  const c3 = await fetchInto(third);
  assert.equal(await readFile(join(c3.dir, 'a.txt'), 'utf8'), 'three\n');

  // A clone that never got its HEAD written is made again from scratch.
  await rm(join(cacheDir, cloneDir, 'git', 'HEAD'));
  const before = server.requests.length;
  const c4 = await fetchInto(repo.commit);
  assert.equal(await readFile(join(c4.dir, 'a.txt'), 'utf8'), 'one\n');
  assert.ok(server.requests.slice(before).some((q) => q.includes('info/refs')), 're-cloned');
});
