// A `3.0 (quilt)` Debian source package kept in git, built by the real Docker
// runner (kiln/bookworm-debhelper): a git checkout has no upstream tarball, so
// the agent makes NAME_UPSTREAM.orig.tar.gz from the tree at the pinned commit,
// debian/ left out, reproducibly (the same upstream files give the same bytes,
// so every Debian revision of one upstream version shares one orig tarball in
// the pool). The tree is taken as patches-unapplied (git-buildpackage's layout):
// dpkg-source applies debian/patches at build time.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { describe, test } from 'node:test';
import { promisify } from 'node:util';
import { DockerRunner } from '../../agents/docker-runner.ts';
import { fetchSource } from '../../agents/fetch-source.ts';
import type { WorkDir } from '../../agents/runner.ts';
import { makeJob, quietLog } from '../fixtures/agent-jobs.ts';
import { debSource, makeDebRepo } from '../fixtures/deb-source.ts';
import { dockerUnavailable } from '../helpers/docker.ts';
import type { Files } from '../helpers/git.ts';

const run = promisify(execFile);
const NAME = 'kiln-quilt';
const PATCH =
  '--- a/main.c\n+++ b/main.c\n@@ -1,2 +1,2 @@\n #include <stdio.h>\n-int main(void) { puts("fixture"); return 0; }\n+int main(void) { puts("patched"); return 0; }\n';

function quiltSource(version: string, extra: Files = {}): Files {
  return { ...debSource({ name: NAME, version }), 'debian/source/format': '3.0 (quilt)\n', ...extra };
}

async function build(root: string, files: Files, version: string): Promise<{ exitCode: number; log: string; artifacts: string[] }> {
  const repo = await makeDebRepo(files, root);
  const work: WorkDir = { root: await mkdtemp(join(root, 'work-')) };
  const src = await fetchSource({ url: repo.dir, commit: repo.commit }, join(work.root, 'src'), join(root, 'scratch'), quietLog);
  work.sourceDir = src.dir;
  work.buildDir = src.buildDir;
  const chunks: Buffer[] = [];
  const out = await new DockerRunner({ log: quietLog }).run(makeJob({ url: repo.dir, commit: repo.commit, package: NAME, version }), work, { onLog: (b) => chunks.push(b), signal: new AbortController().signal });
  return { exitCode: out.exitCode, log: Buffer.concat(chunks).toString(), artifacts: out.artifacts };
}

const sha256 = async (p: string) => createHash('sha256').update(await readFile(p)).digest('hex');

describe('deb quilt source', { skip: await dockerUnavailable('kiln/bookworm-debhelper') }, () => {
  test('deb quilt source - a 3.0 (quilt) package from git builds; the orig tarball is made from the tree without debian/, the same for every revision', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'kiln-quilt-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const first = await build(root, quiltSource('1.0-1'), '1.0-1');
    assert.equal(first.exitCode, 0, first.log);
    const names = first.artifacts.map((a) => basename(a)).sort();
    for (const n of [`${NAME}_1.0.orig.tar.gz`, `${NAME}_1.0-1.debian.tar.xz`, `${NAME}_1.0-1.dsc`, `${NAME}_1.0-1_amd64.deb`]) assert.ok(names.includes(n), `${n} among ${names.join(' ')}`);
    const orig = first.artifacts.find((a) => a.endsWith('.orig.tar.gz'))!;
    const listed = (await run('tar', ['-tzf', orig])).stdout.split('\n').filter(Boolean);
    assert.ok(listed.includes(`${NAME}-1.0/main.c`), listed.join(' '));
    assert.ok(!listed.some((p) => p.includes('/debian/') || p.includes('/.git/')), listed.join(' '));
    assert.match(await readFile(first.artifacts.find((a) => a.endsWith('.dsc'))!, 'utf8'), new RegExp(`${NAME}_1\\.0\\.orig\\.tar\\.gz`));
    // A new Debian revision (another commit, only debian/ changed): byte-identical orig tarball.
    const second = await build(root, quiltSource('1.0-2'), '1.0-2');
    assert.equal(second.exitCode, 0, second.log);
    assert.equal(await sha256(second.artifacts.find((a) => a.endsWith('.orig.tar.gz'))!), await sha256(orig));
  });

  test('deb quilt source - debian/patches are applied to the patches-unapplied tree at build time', async (t) => {
    const root = await mkdtemp(join(tmpdir(), 'kiln-quilt-'));
    t.after(() => rm(root, { recursive: true, force: true }));
    const out = await build(root, quiltSource('1.0-1', { 'debian/patches/series': 'greeting.patch\n', 'debian/patches/greeting.patch': PATCH }), '1.0-1');
    assert.equal(out.exitCode, 0, out.log);
    const deb = out.artifacts.find((a) => a.endsWith('.deb'))!;
    const x = join(root, 'x');
    await run('dpkg-deb', ['-x', deb, x]);
    assert.equal((await run(join(x, 'usr/bin', NAME))).stdout, 'patched\n');
    // The orig tarball is upstream's: the unpatched source.
    const orig = out.artifacts.find((a) => a.endsWith('.orig.tar.gz'))!;
    assert.match((await run('tar', ['-xzOf', orig, `${NAME}-1.0/main.c`])).stdout, /"fixture"/);
  });
});
