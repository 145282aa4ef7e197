import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { collectSourcePackage, dscListedFiles } from '../../agents/source-package.ts';

const sha = 'a'.repeat(64);
const dsc = (names: string[]) => `Format: 3.0 (quilt)\nSource: h\nVersion: 1-1\nChecksums-Sha256:\n${names.map((n) => ` ${sha} 1 ${n}`).join('\n')}\nFiles:\n ${'b'.repeat(32)} 1 other.tar.gz\n`;

test('agent source package - the files a .dsc lists, unsafe names dropped', () => {
  assert.deepEqual(dscListedFiles(dsc(['h_1.orig.tar.gz', 'h_1-1.debian.tar.xz'])), ['h_1.orig.tar.gz', 'h_1-1.debian.tar.xz']);
  assert.deepEqual(dscListedFiles(dsc(['../../etc/passwd', '/etc/shadow', '.hidden', 'ok.tar.xz'])), ['ok.tar.xz']);
  // Files: only when there is no Checksums-Sha256.
  assert.deepEqual(dscListedFiles(`Source: h\nFiles:\n ${'b'.repeat(32)} 1 h_1.tar.gz\n`), ['h_1.tar.gz']);
  assert.deepEqual(dscListedFiles('Source: h\n'), []);
});

test('agent source package - collects the .dsc and the regular files it lists, never a symlink or an unlisted tarball', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-srcpkg-'));
  try {
    await writeFile(join(dir, 'h_1-1.dsc'), dsc(['h_1.orig.tar.gz', 'h_1-1.debian.tar.xz', 'missing.tar.xz']));
    await writeFile(join(dir, 'h_1.orig.tar.gz'), 'x');
    await symlink('/etc/passwd', join(dir, 'h_1-1.debian.tar.xz'));
    await writeFile(join(dir, 'stray.tar.gz'), 'x');
    assert.deepEqual(await collectSourcePackage(dir), [join(dir, 'h_1-1.dsc'), join(dir, 'h_1.orig.tar.gz')]);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
