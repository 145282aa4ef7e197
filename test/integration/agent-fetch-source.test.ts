// Source fetch with isomorphic-git from real git repositories: the exported
// tree is exactly the pinned commit's (modes, symlinks), the source repo is untouched.
import assert from 'node:assert/strict';
import { chmod, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { execFileSync } from 'node:child_process';
import { fetchSource } from '../../agents/fetch-source.ts';
import { chownTree, readSourceFile } from '../../agents/source-tree.ts';
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

/** The source is at fault: terminal, so the build fails as `build`, never retried as infrastructure. */
const isTerminalSourceError = (e: unknown): e is SourceResolveError => e instanceof SourceResolveError && e.kind === 'terminal';

test('agent fetch-source - a missing subdir or commit is an error naming it (a bad tree is the input\'s fault)', async (t) => {
  const repo = await makeRepo({ 'a.txt': 'a\n' });
  const out = await mkdtemp(join(tmpdir(), 'kiln-fetch-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  t.after(() => rm(repo.dir, { recursive: true, force: true }));
  await assert.rejects(
    fetchSource({ url: repo.dir, commit: repo.commit, subdir: 'nope' }, join(out, 's1'), join(out, 'x1'), quietLog),
    (e: unknown) => isTerminalSourceError(e) && /subdir 'nope' at [0-9a-f]{40}: nope does not exist/.test(e.message),
  );
  await assert.rejects(
    fetchSource({ url: repo.dir, commit: 'main' }, join(out, 's2'), join(out, 'x2'), quietLog),
    (e: unknown) => isTerminalSourceError(e) && /'main' is not a hex commit id/.test(e.message),
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

test('agent fetch-source - a subdir that is a symbolic link (out of the tree or inside it) is refused, never followed', async (t) => {
  const repo = await makeRepo({ 'real/debian/control': 'Source: a\n' });
  await symlink('/etc', join(repo.dir, 'hostetc'));
  await symlink('real', join(repo.dir, 'alias'));
  await mkdir(join(repo.dir, 'nested'));
  await symlink('/etc', join(repo.dir, 'nested/etc'));
  const commit = await commitFiles(repo.dir, {}, 'links');
  const out = await mkdtemp(join(tmpdir(), 'kiln-fetch-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  t.after(() => rm(repo.dir, { recursive: true, force: true }));
  let n = 0;
  for (const [subdir, bad] of [['hostetc', 'hostetc'], ['alias', 'alias'], ['nested/etc', 'nested/etc'], ['nested/etc/apt', 'nested/etc']]) {
    n++;
    await assert.rejects(
      fetchSource({ url: repo.dir, commit, subdir }, join(out, `s${n}`), join(out, `x${n}`), quietLog),
      (e: unknown) => isTerminalSourceError(e) && e.message.includes(`source subdir '${subdir}' at ${commit}: ${bad} is a symbolic link`),
      subdir,
    );
  }
  const ok = await fetchSource({ url: repo.dir, commit, subdir: 'real' }, join(out, 'ok'), join(out, 'xok'), quietLog);
  assert.equal(ok.buildDir, join(out, 'ok', 'real'));
});

test('agent fetch-source - a tree naming an entry twice (as a link, then as a directory) is refused; nothing lands outside', async (t) => {
  const repo = await makeRepo({ 'a.txt': 'a\n' });
  t.after(() => rm(repo.dir, { recursive: true, force: true }));
  const outside = await mkdtemp(join(tmpdir(), 'kiln-outside-'));
  t.after(() => rm(outside, { recursive: true, force: true }));
  // A hand-made tree object: "x" as a symlink to `outside`, then "x" again as a directory holding "pwned".
  const { execFileSync } = await import('node:child_process');
  const hash = (type: string, input: Buffer | string) =>
    execFileSync('git', ['hash-object', '-t', type, '-w', '--literally', '--stdin'], { cwd: repo.dir, input }).toString().trim();
  const entry = (mode: string, name: string, oid: string) => Buffer.concat([Buffer.from(`${mode} ${name}\0`), Buffer.from(oid, 'hex')]);
  const inner = hash('tree', entry('100644', 'pwned', hash('blob', 'owned\n')));
  const tree = hash('tree', Buffer.concat([entry('120000', 'x', hash('blob', outside)), entry('40000', 'x', inner)]));
  const commit = execFileSync('git', ['commit-tree', tree, '-m', 'evil'], { cwd: repo.dir, env: { ...process.env, GIT_AUTHOR_NAME: 'a', GIT_AUTHOR_EMAIL: 'a@b', GIT_COMMITTER_NAME: 'a', GIT_COMMITTER_EMAIL: 'a@b' } }).toString().trim();
  const out = await mkdtemp(join(tmpdir(), 'kiln-fetch-'));
  t.after(() => rm(out, { recursive: true, force: true }));
  await assert.rejects(fetchSource({ url: repo.dir, commit }, join(out, 'src'), join(out, 'x'), quietLog), (e: unknown) => isTerminalSourceError(e) && /'x'/.test((e as Error).message));
  assert.deepEqual(await readdir(outside), [], 'nothing was written through the link');
});

test('agent source-file - reads never follow a link, open a FIFO or exceed the limit, and say what was wrong', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'kiln-srcfile-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await mkdir(join(root, 'pkg/debian'), { recursive: true });
  await writeFile(join(root, 'pkg/debian/control'), 'Source: a\n');
  await writeFile(join(root, 'big'), Buffer.alloc(2048));
  await symlink('/dev/zero', join(root, 'zero'));
  await symlink('/etc', join(root, 'etc'));
  await symlink('pkg', join(root, 'alias'));
  execFileSync('mkfifo', [join(root, 'fifo')]);
  assert.equal((await readSourceFile(root, 'pkg/debian/control', 1024)).toString(), 'Source: a\n');
  const refuses = async (rel: string, re: RegExp) =>
    assert.rejects(readSourceFile(root, rel, 1024), (e: unknown) => isTerminalSourceError(e) && re.test((e as Error).message), rel);
  await refuses('zero', /^zero is a symbolic link/);
  await refuses('etc/passwd', /^etc is a symbolic link/);
  await refuses('alias/debian/control', /^alias is a symbolic link/);
  await refuses('fifo', /^fifo is not a regular file/);
  await refuses('big', /^big is too large: 2048 bytes, the limit is 1024/);
  await refuses('pkg/debian/missing', /^pkg\/debian\/missing not found/);
  await refuses('pkg/debian/control/x', /^pkg\/debian\/control is not a directory/);
});

test('agent source-tree - chownTree gives the tree to the build user and never descends through a link', { skip: process.getuid?.() !== 0 && 'chown needs root' }, async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'kiln-chown-'));
  const outside = await mkdtemp(join(tmpdir(), 'kiln-host-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  t.after(() => rm(outside, { recursive: true, force: true }));
  await writeFile(join(outside, 'host-file'), 'the host\'s\n');
  await mkdir(join(root, 'src/debian'), { recursive: true });
  await writeFile(join(root, 'src/debian/control'), 'Source: a\n');
  await symlink(outside, join(root, 'src/hostdir'));
  await chownTree(root, 4321, 4321);
  assert.equal((await lstat(join(root, 'src/debian/control'))).uid, 4321);
  assert.equal((await lstat(join(root, 'src/hostdir'))).uid, 4321, 'the link itself');
  assert.equal((await lstat(outside)).uid, 0, 'what it points to is untouched');
  assert.equal((await lstat(join(outside, 'host-file'))).uid, 0);
});
