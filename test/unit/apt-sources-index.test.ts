// The Sources index and .dsc handling, compared with what Debian's own tools
// (dpkg-scansources, apt-ftparchive sources) write for the same source packages
// made by the real dpkg-source.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { parseControlParagraph, type ControlFields } from '../../reconciler/publish/deb/control-paragraph.ts';
import { parseDsc, sourceVersionMatches, unwrapClearsigned } from '../../reconciler/publish/deb/dsc.ts';
import { digests } from '../../reconciler/publish/apt/hashes.ts';
import { poolPath } from '../../reconciler/publish/apt/layout.ts';
import type { PlannedFile } from '../../reconciler/publish/apt/plan-files.ts';
import { publishedArtifacts } from '../../reconciler/publish/apt/published-artifacts.ts';
import { sourceEntries } from '../../reconciler/publish/apt/source-entries.ts';
import { sourcesIndex, sourcesStanza, type SourceEntry } from '../../reconciler/publish/apt/sources-index.ts';
import { emptyState, type RepoState } from '../../reconciler/publish/apt/state.ts';
import { DebFormatError, PublishInputError } from '../../schema/errors.ts';
import { debSource } from '../fixtures/deb-source.ts';

const run = promisify(execFile);

/** Write `files` as a source tree at `dir` (debian/rules executable). */
async function writeTree(dir: string, files: Record<string, string | Buffer>): Promise<void> {
  for (const [rel, content] of Object.entries(files)) {
    await mkdir(dirname(join(dir, rel)), { recursive: true });
    await writeFile(join(dir, rel), content);
  }
  await chmod(join(dir, 'debian/rules'), 0o755);
}

/** A SourceEntry for the .dsc at root/directory/dscName, digests computed from the files. */
async function entryFor(root: string, directory: string, dscName: string): Promise<SourceEntry> {
  const dscBytes = await readFile(join(root, directory, dscName));
  const dsc = parseDsc(dscBytes.toString('utf8'), dscName);
  const files = [{ name: dscName, ...digests(dscBytes) }];
  for (const f of dsc.files) files.push({ name: f.name, ...digests(await readFile(join(root, directory, f.name))) });
  return { fields: dsc.fields, package: dsc.source, version: dsc.version, component: 'main', directory, files };
}

/** Every paragraph of an index text, by Package. */
function paragraphs(text: string): Map<string, ControlFields> {
  const out = new Map<string, ControlFields>();
  for (const p of text.split(/\n\s*\n/).filter((s) => s.trim())) {
    const f = parseControlParagraph(p);
    out.set(f.get('Package')!, f);
  }
  return out;
}

const COMPARED = ['Package', 'Format', 'Binary', 'Architecture', 'Version', 'Maintainer', 'Standards-Version', 'Build-Depends', 'Package-List', 'Directory', 'Files', 'Checksums-Sha256'];

describe('apt sources index', () => {
  let root: string;
  const directories: Record<string, string> = {};

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'kiln-sources-'));
    const work = join(root, 'work');
    // A native package, and a 3.0 (quilt) one with an upstream tarball (three files listed).
    await writeTree(join(work, 'native'), debSource({ name: 'kiln-native', version: '1.2' }));
    const quilt = debSource({ name: 'libkilnq', version: '2.0-1' });
    quilt['debian/source/format'] = '3.0 (quilt)\n';
    await writeTree(join(work, 'libkilnq-2.0'), quilt);
    await run('tar', ['-C', work, '--exclude=libkilnq-2.0/debian', '-czf', join(work, 'libkilnq_2.0.orig.tar.gz'), 'libkilnq-2.0']);
    await run('dpkg-source', ['-b', 'native'], { cwd: work });
    await run('dpkg-source', ['-b', 'libkilnq-2.0'], { cwd: work });
    for (const [pkg, prefix] of [['kiln-native', 'kiln-native_1.2'], ['libkilnq', 'libkilnq_2.0']]) {
      const dir = dirname(poolPath('main', pkg, 'x'));
      directories[pkg] = dir;
      await mkdir(join(root, dir), { recursive: true });
      for (const name of await readdir(work)) if (name.startsWith(prefix)) await run('cp', [join(work, name), join(root, dir)]);
    }
    await rm(work, { recursive: true });
  });
  after(async () => {
    if (root) await rm(root, { recursive: true, force: true });
  });

  test('apt sources - stanzas carry the fields dpkg-scansources and apt-ftparchive write for the same files', async () => {
    const entries = [
      await entryFor(root, directories['kiln-native'], 'kiln-native_1.2.dsc'),
      await entryFor(root, directories.libkilnq, 'libkilnq_2.0-1.dsc'),
    ];
    assert.equal(entries[1].files.length, 3, 'quilt: .dsc, orig and debian tarballs');
    const ours = paragraphs(sourcesIndex(entries));
    const scansources = paragraphs((await run('dpkg-scansources', ['pool'], { cwd: root })).stdout);
    const ftparchive = paragraphs((await run('apt-ftparchive', ['sources', 'pool'], { cwd: root })).stdout);
    for (const pkg of ['kiln-native', 'libkilnq']) {
      for (const [tool, theirs] of [['dpkg-scansources', scansources], ['apt-ftparchive', ftparchive]] as const) {
        const t = theirs.get(pkg);
        assert.ok(t, `${tool} lists ${pkg}`);
        for (const f of COMPARED) assert.equal(ours.get(pkg)!.get(f), t.get(f), `${pkg} ${f} as ${tool} writes it`);
        // Nothing of ours that Debian's tools do not write.
        for (const k of ours.get(pkg)!.keys()) assert.ok(t.has(k), `${tool} also writes ${k}`);
      }
    }
    // Stanzas are separated by one blank line and end with a newline.
    assert.match(sourcesIndex(entries), /\n\nPackage: libkilnq\n/);
    assert.ok(sourcesStanza(entries[0]).endsWith('\n'));
  });

  test('apt sources - a clearsigned .dsc is read through its signature; a malformed one is refused naming the file and field', () => {
    const body = 'Format: 3.0 (native)\nSource: a\nVersion: 1\nChecksums-Sha256:\n ' + 'a'.repeat(64) + ' 3 a_1.tar.xz\nFiles:\n ' + 'b'.repeat(32) + ' 3 a_1.tar.xz\n';
    const signed = `-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n\n${body}\n-----BEGIN PGP SIGNATURE-----\nxx\n-----END PGP SIGNATURE-----\n`;
    assert.equal(unwrapClearsigned(signed), body);
    const dsc = parseDsc(signed, 'a_1.dsc');
    assert.deepEqual(dsc.files, [{ name: 'a_1.tar.xz', size: 3, sha256: 'a'.repeat(64), md5: 'b'.repeat(32) }]);
    assert.throws(() => parseDsc(body.replace('a_1.tar.xz\nFiles', '../a.tar.xz\nFiles'), 'a_1.dsc'), (e: unknown) => e instanceof DebFormatError && /a_1\.dsc: Checksums-Sha256: malformed line/.test(e.message));
    assert.throws(() => parseDsc('Source: a\nVersion: 1\n', 'a_1.dsc'), (e: unknown) => e instanceof DebFormatError && /a_1\.dsc: no Checksums-Sha256/.test(e.message));
    assert.ok(sourceVersionMatches('1.0-1', '1.0-1+kiln2'));
    assert.ok(!sourceVersionMatches('1.0-1', '1.0-2'));
  });

  test('apt sources - each .dsc must be its package version, list only given bytes, and be the only .dsc of that version', () => {
    const sha = (c: string) => c.repeat(64);
    const state: RepoState = emptyState();
    const dscText = (version: string, tarSha: string) => `Format: 3.0 (native)\nSource: hello\nBinary: hello\nVersion: ${version}\nChecksums-Sha256:\n ${tarSha} 10 hello_${version}.tar.xz\n`;
    const planned = (name: string, sha256: string, version = '1.0', component = 'main'): PlannedFile => ({
      kind: 'source',
      component,
      source: 'hello',
      version,
      binaryVersion: version,
      file: { name, path: '/x', size: 10, sha256 },
      poolRel: poolPath(component, 'hello', name),
    });
    const store = (sha256: string, control: string) => (state.files[sha256] = { control, size: 10, md5: 'c'.repeat(32), package: 'hello', version: '1.0', arch: 'source' });
    store(sha('1'), dscText('1.0', sha('2')));
    store(sha('2'), '');
    store(sha('3'), dscText('1.0', sha('4')));
    store(sha('4'), '');
    store(sha('5'), dscText('9.9', sha('2')));
    const good = [planned('hello_1.0.dsc', sha('1')), planned('hello_1.0.tar.xz', sha('2'))];
    const [e] = sourceEntries(good, state);
    assert.deepEqual(e.files.map((f) => f.name), ['hello_1.0.dsc', 'hello_1.0.tar.xz']);
    assert.equal(e.directory, 'pool/main/h/hello');
    const refused = (files: PlannedFile[], re: RegExp) =>
      assert.throws(() => sourceEntries(files, state), (err: unknown) => err instanceof PublishInputError && err.data.package === 'hello' && re.test(err.message), String(re));
    refused([planned('hello_1.0.dsc', sha('1'))], /lists hello_1\.0\.tar\.xz, which is not among/);
    refused([planned('hello_1.0.dsc', sha('1')), planned('hello_1.0.tar.xz', sha('4'))], /lists hello_1\.0\.tar\.xz as sha256 2222/);
    refused([planned('hello_1.0.dsc', sha('5')), planned('hello_1.0.tar.xz', sha('2'))], /declares Version: "9\.9", not the declared 1\.0/);
    refused([...good, planned('stray.tar.gz', sha('4'))], /stray\.tar\.gz is not listed by any \.dsc/);
    // Another component, another .dsc of hello 1.0: one source version is one .dsc.
    refused([...good, planned('hello_1.0.dsc', sha('3'), '1.0', 'contrib'), planned('hello_1.0.tar.xz', sha('4'), '1.0', 'contrib')], /hello 1\.0 already has another \.dsc/);
  });

  test('apt sources - the published source files of a package: its .dsc and source files, first of each name', () => {
    const a = (name: string, sha256 = 'a') => ({ name, sha256, size: 1 });
    assert.deepEqual(publishedArtifacts([a('h_1_amd64.deb'), a('h_1_amd64.buildinfo'), a('h_1.tar.xz')]).source, [], 'no .dsc: no source package');
    const got = publishedArtifacts([a('h_1_amd64.deb'), a('h_1.dsc'), a('h_1.tar.xz'), a('h_1_amd64.changes'), a('h_1_arm64.deb'), a('h_1.dsc', 'b')]);
    assert.deepEqual(got.debs.map((x) => x.name), ['h_1_amd64.deb', 'h_1_arm64.deb']);
    assert.deepEqual(got.source, [a('h_1.dsc'), a('h_1.tar.xz')]);
  });
});
