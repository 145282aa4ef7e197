// Collected rpm copies are hard-linked into a dnf repository unread and checked against
// createrepo_c's own reading of them (reconciler/publish/dnf/placed-digests.ts): that reading
// must equal what Kiln's hashing of each file (the slow path, sha256File) says, for files
// createrepo_c describes anew and for those it reuses from the published repodata (--update).
// Where --update reuses an entry unread (same href, size and mtime), changed bytes are caught by
// Kiln hashing the path (reusedPathsDiffering).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { sha256File } from '../../reconciler/publish/apt/hashes.ts';
import { mismatchedCopies, primaryDigests, primaryLocation, reusedPathsDiffering } from '../../reconciler/publish/dnf/placed-digests.ts';
import { createrepoArgs, stageRepodata } from '../../reconciler/publish/dnf/createrepo.ts';
import { writeRpm } from '../helpers/rpm.ts';

const run = promisify(execFile);

describe('dnf placed digests', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-placed-digests-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('dnf placed digests - createrepo_c\'s sha256 and size of each package equal sha256File of the file, new and reused (--update); a differing file is named', async () => {
    const repo = join(dir, 'repo');
    await mkdir(join(repo, 'packages', '0123456789abcdef'), { recursive: true });
    const built = [await writeRpm(dir, { name: 'kiln-pd', version: '1.0-1' }), await writeRpm(dir, { name: 'kiln-pd-extra', version: '1.0-1' })];
    const rels = ['packages/kiln-pd-1.0-1.noarch.rpm', 'packages/0123456789abcdef/kiln-pd-extra-1.0-1.noarch.rpm'];
    for (const [i, b] of built.entries()) await run('cp', [b.path, join(repo, rels[i])]);
    const slow = new Map(await Promise.all(rels.map(async (r) => [r, await sha256File(join(repo, r))] as const)));

    const staged = await stageRepodata(repo, rels, '1', false);
    assert.deepEqual(await mismatchedCopies(staged, slow), []);
    // Published, then described again with --update (metadata reused): the same digests.
    await run('cp', ['-r', staged, join(repo, 'repodata')]);
    const again = await stageRepodata(repo, rels, '2', false);
    assert.deepEqual(await mismatchedCopies(again, slow), []);

    const wrong = new Map([...slow].map(([r, d], i) => [r, i === 0 ? { ...d, sha256: '0'.repeat(64) } : d]));
    assert.deepEqual(await mismatchedCopies(again, wrong), [rels[0]]);
    assert.deepEqual(await mismatchedCopies(again, new Map([[rels[1], { ...slow.get(rels[1])!, size: 1 }]])), [rels[1]], 'size compared too');
    assert.deepEqual(await mismatchedCopies(again, new Map([['packages/not-there.rpm', slow.get(rels[0])!]])), ['packages/not-there.rpm'], 'a file createrepo_c did not describe is not proven');
    assert.ok((await readdir(join(repo, 'repodata'))).length > 0);
  });

  test('dnf placed digests - primary metadata is gzip whatever createrepo_c\'s default (>= 1.0 writes zstd)', async () => {
    assert.deepEqual(createrepoArgs('/r', { pkglist: '/p', outputDir: '/o', reuse: false, revision: '1' }).join(' ').match(/--general-compress-type gz/)?.[0], '--general-compress-type gz');
    const repo = join(dir, 'gz');
    await mkdir(join(repo, 'packages'), { recursive: true });
    const b = await writeRpm(dir, { name: 'kiln-pd-gz', version: '1.0-1' });
    await run('cp', [b.path, join(repo, 'packages', 'kiln-pd-gz-1.0-1.noarch.rpm')]);
    const staged = await stageRepodata(repo, ['packages/kiln-pd-gz-1.0-1.noarch.rpm'], '1', false);
    const names = await readdir(staged);
    assert.match(primaryLocation(await readFile(join(staged, 'repomd.xml'), 'utf8')) ?? '', /primary\.xml\.gz$/);
    assert.ok(names.every((n) => n === 'repomd.xml' || n.endsWith('.gz')), names.join(' '));
  });

  test('dnf placed digests - an entry --update reuses unread (same href, size, mtime) is no proof: a path the published repodata names is hashed', async () => {
    const repo = join(dir, 'reused');
    await mkdir(join(repo, 'packages'), { recursive: true });
    const b = await writeRpm(dir, { name: 'kiln-pd-reuse', version: '1.0-1' });
    const rel = 'packages/kiln-pd-reuse-1.0-1.noarch.rpm';
    await run('cp', [b.path, join(repo, rel)]);
    const good = await sha256File(join(repo, rel));
    const expected = new Map([[rel, good]]);
    assert.deepEqual(await reusedPathsDiffering(repo, expected), [], 'nothing published yet');
    await run('cp', ['-r', await stageRepodata(repo, [rel], '1', false), join(repo, 'repodata')]);
    assert.deepEqual(await reusedPathsDiffering(repo, expected), [], 'named, and the bytes recorded');
    // Other bytes under that path, same size and mtime: createrepo_c reuses the old entry and reads nothing.
    const { mtime } = await stat(join(repo, rel));
    const bytes = await readFile(join(repo, rel));
    bytes[bytes.length - 1] ^= 1;
    await writeFile(join(repo, rel), bytes);
    await utimes(join(repo, rel), mtime, mtime);
    const again = await stageRepodata(repo, [rel], '2', false);
    assert.deepEqual(await mismatchedCopies(again, expected), [], 'createrepo_c\'s reading alone does not see it');
    assert.deepEqual(await reusedPathsDiffering(repo, expected), [rel]);
  });

  test('dnf placed digests - primaryDigests: escaped hrefs, xml:base, other checksum types left out', () => {
    const xml = `<metadata packages="3">
<package type="rpm"><checksum type="sha256" pkgid="YES">${'a'.repeat(64)}</checksum><size package="12" installed="0" archive="1"/><location href="packages/a&amp;b.rpm"/></package>
<package type="rpm"><checksum type="sha256" pkgid="YES">${'b'.repeat(64)}</checksum><size package="7" installed="0" archive="1"/><location xml:base="http://x/" href="packages/c.rpm"/></package>
<package type="rpm"><checksum type="sha1" pkgid="YES">${'c'.repeat(40)}</checksum><size package="5" installed="0" archive="1"/><location href="packages/d.rpm"/></package>
</metadata>`;
    assert.deepEqual([...primaryDigests(xml)], [
      ['packages/a&b.rpm', { sha256: 'a'.repeat(64), size: 12 }],
      ['packages/c.rpm', { sha256: 'b'.repeat(64), size: 7 }],
    ]);
  });
});
