import { createHash } from 'node:crypto';
// publishApt against the real clients: apt in a container (file: source,
// NetworkMode none) and gpgv on what openpgp.js signed.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { AptDistribution, DesiredDistribution } from '../../reconciler/model.ts';
import { publishApt, releaseDueForRefresh, resignRepository, type PublishPackage } from '../../reconciler/publish/index.ts';
import { releaseDate } from '../../reconciler/publish/apt/release-file.ts';
import { generateKey, loadSigner, type Signer } from '../../reconciler/signing/signer.ts';
import { DigestMismatchError, PublishError } from '../../schema/errors.ts';
import { aptInContainer } from '../helpers/apt-container.ts';
import { writeDeb, type BuiltDeb, type DebSpec } from '../helpers/deb.ts';
import { aptDistribution } from '../helpers/distribution.ts';

const run = promisify(execFile);

const distribution = (name: string, extra: Partial<AptDistribution> = {}) =>
  aptDistribution(name, { suite: 'stable', codename: 'kiln-stable', label: 'Kiln Tests', validForDays: 7, ...extra });

const asPackage = (d: BuiltDeb, source = d.package): PublishPackage => ({
  name: source,
  version: d.version,
  arch: 'amd64',
  files: [{ name: d.name, sha256: d.sha256, size: d.size, path: d.path }],
});

async function newSigner(name: string): Promise<Signer> {
  const k = await generateKey({ name, email: `${name.toLowerCase().replace(/\W/g, '')}@kiln.invalid` });
  return loadSigner(k.privateKeyArmored);
}

/** gpgv against a keyring made from an armored key file; returns its stderr. */
async function gpgv(dir: string, keyAsc: string, ...files: string[]): Promise<string> {
  const ring = join(dir, `ring-${Math.random().toString(36).slice(2)}.gpg`);
  await run('sh', ['-c', `gpg --dearmor < "$1" > "$2"`, 'sh', keyAsc, ring]);
  const { stderr } = await run('gpgv', ['--keyring', ring, ...files]);
  return stderr;
}

describe('apt publish', () => {
  let dir: string;
  let debs: string;
  let signer: Signer;
  const byName = new Map<string, BuiltDeb>();
  const deb = async (spec: DebSpec) => {
    const d = await writeDeb(debs, spec);
    byName.set(`${spec.name}=${spec.version}`, d);
    return d;
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-apt-'));
    debs = join(dir, 'debs');
    await run('mkdir', ['-p', debs]);
    signer = await newSigner('Kiln Repo Key');
    await deb({ name: 'hello', version: '1.0-1', script: 'echo "hello 1.0 from kiln"' });
    await deb({ name: 'hello', version: '2.0-1', script: 'echo "hello 2.0 from kiln"' });
    await deb({ name: 'tool', version: '0.1-1', script: 'echo tool' });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('apt publish - apt updates, installs and runs a package from the signed repo; gpgv verifies InRelease and Release.gpg', async () => {
    const root = join(dir, 'repos');
    const report = await publishApt({ root, distribution: distribution('one'), packages: [asPackage(byName.get('hello=1.0-1')!)], signer, now: new Date() });
    const repo = join(root, 'one');
    const release = await readFile(join(repo, 'dists/stable/Release'));
    assert.equal(report.releaseSha256, (await import('node:crypto')).createHash('sha256').update(release).digest('hex'));
    assert.deepEqual(report.filesAdded, ['pool/main/h/hello/hello_1.0-1_all.deb']);
    const keyAsc = join(repo, 'one-archive-keyring.asc');
    assert.match(await gpgv(dir, keyAsc, join(repo, 'dists/stable/InRelease')), /Good signature from "Kiln Repo Key/);
    assert.match(await gpgv(dir, keyAsc, join(repo, 'dists/stable/Release.gpg'), join(repo, 'dists/stable/Release')), /Good signature/);
    assert.match((await readFile(join(repo, 'dists/stable/Release.gpg'), 'utf8')).slice(0, 40), /^-----BEGIN PGP SIGNATURE-----/);
    const inRelease = await readFile(join(repo, 'dists/stable/InRelease'), 'utf8');
    assert.ok(inRelease.includes('\n\n' + release.toString()), 'InRelease carries the Release text, LF line ends');
    assert.equal((await stat(join(repo, 'pool/main/h/hello/hello_1.0-1_all.deb'))).mode & 0o777, 0o644);
    assert.equal((await stat(join(repo, 'pool/main/h'))).mode & 0o777, 0o755);

    const r = await aptInContainer({ repoDir: repo, keyPath: keyAsc, suite: 'stable', install: ['hello'], commands: ['hello'] });
    assert.equal(r.exitCode, 0, r.output);
    assert.match(r.output, /hello 1\.0 from kiln/);
  });

  test('apt publish - incremental: same input writes nothing, one more package writes only its file and the indexes', async () => {
    const root = join(dir, 'repos');
    const dist = distribution('incr');
    const first = await publishApt({ root, distribution: dist, packages: [asPackage(byName.get('hello=1.0-1')!)], signer, now: new Date() });
    const again = await publishApt({ root, distribution: dist, packages: [asPackage(byName.get('hello=1.0-1')!)], signer, now: new Date() });
    assert.equal(again.changed, false);
    assert.equal(again.resigned, false);
    assert.equal(again.releaseSha256, first.releaseSha256);
    assert.deepEqual(again.indexesWritten, []);
    const more = await publishApt({
      root,
      distribution: dist,
      packages: [asPackage(byName.get('hello=1.0-1')!), asPackage(byName.get('tool=0.1-1')!)],
      signer,
      now: new Date(),
    });
    assert.deepEqual(more.filesAdded, ['pool/main/t/tool/tool_0.1-1_all.deb']);
    assert.deepEqual(more.indexesWritten, ['main/binary-amd64/Packages', 'main/binary-amd64/Packages.gz', 'main/binary-amd64/Packages.xz']);
    assert.notEqual(more.releaseSha256, first.releaseSha256);
    const packages = await readFile(join(root, 'incr/dists/stable/main/binary-amd64/Packages'), 'utf8');
    assert.deepEqual([...packages.matchAll(/^Package: (.*)$/gm)].map((m) => m[1]), ['hello', 'tool']);
  });

  test('apt publish - named indexes left out of step by an interrupted publish are rewritten to match the Release', async () => {
    const root = join(dir, 'repos');
    const dist = distribution('torn');
    await publishApt({ root, distribution: dist, packages: [asPackage(byName.get('hello=1.0-1')!)], signer, now: new Date() });
    const named = join(root, 'torn/dists/stable/main/binary-amd64/Packages');
    // What a publish killed after writing its named indexes, before its Release, leaves behind.
    await writeFile(named, 'Package: ghost\nVersion: 6.6.6\n');
    const again = await publishApt({ root, distribution: dist, packages: [asPackage(byName.get('hello=1.0-1')!)], signer, now: new Date() });
    assert.deepEqual(again.indexesWritten, ['main/binary-amd64/Packages', 'main/binary-amd64/Packages.gz', 'main/binary-amd64/Packages.xz']);
    const listed = /^ ([0-9a-f]{64})\s+\d+ main\/binary-amd64\/Packages$/m.exec(await readFile(join(root, 'torn/dists/stable/InRelease'), 'utf8'))?.[1];
    assert.equal(createHash('sha256').update(await readFile(named)).digest('hex'), listed);
  });

  test('apt publish - several versions co-exist; a version left out leaves the index and, after the grace period, the pool', async () => {
    const root = join(dir, 'repos');
    const dist = distribution('keep');
    const repo = join(root, 'keep');
    const v1 = byName.get('hello=1.0-1')!;
    const v2 = byName.get('hello=2.0-1')!;
    await publishApt({ root, distribution: dist, packages: [asPackage(v1), asPackage(v2)], signer, now: new Date(), retainSeconds: 0 });
    const keyAsc = join(repo, 'keep-archive-keyring.asc');
    const both = await aptInContainer({ repoDir: repo, keyPath: keyAsc, suite: 'stable', commands: ['apt-cache madison hello', 'apt-get install -y hello=1.0-1 && hello'] });
    assert.equal(both.exitCode, 0, both.output);
    assert.match(both.output, /hello \| +1\.0-1 \|/);
    assert.match(both.output, /hello \| +2\.0-1 \|/);
    assert.match(both.output, /hello 1\.0 from kiln/);

    const pruned = await publishApt({ root, distribution: dist, packages: [asPackage(v2)], signer, now: new Date(), retainSeconds: 0 });
    assert.ok(pruned.filesRemoved.includes('pool/main/h/hello/hello_1.0-1_all.deb'), JSON.stringify(pruned));
    await assert.rejects(stat(join(repo, 'pool/main/h/hello/hello_1.0-1_all.deb')), { code: 'ENOENT' });
    const after2 = await aptInContainer({ repoDir: repo, keyPath: keyAsc, suite: 'stable', commands: ['apt-cache madison hello'] });
    assert.equal(after2.exitCode, 0, after2.output);
    assert.doesNotMatch(after2.output, /1\.0-1/);
    assert.match(after2.output, /hello \| +2\.0-1 \|/);
  });

  test('apt publish - a package pruned with its pool directory can be published again, in both input modes', async () => {
    const root = join(dir, 'repos');
    const dist = distribution('comeback');
    const tool = asPackage(byName.get('tool=0.1-1')!);
    const hello = asPackage(byName.get('hello=1.0-1')!);
    for (const inputs of ['copy', 'link'] as const) {
      await publishApt({ root, distribution: dist, packages: [hello, tool], signer, now: new Date(), retainSeconds: 0, inputs });
      const gone = await publishApt({ root, distribution: dist, packages: [hello], signer, now: new Date(), retainSeconds: 0, inputs });
      assert.deepEqual(gone.filesRemoved.filter((p) => p.startsWith('pool/')), ['pool/main/t/tool/tool_0.1-1_all.deb'], inputs);
      await assert.rejects(stat(join(root, 'comeback/pool/main/t')), { code: 'ENOENT' });
      const back = await publishApt({ root, distribution: dist, packages: [hello, tool], signer, now: new Date(), retainSeconds: 0, inputs });
      assert.deepEqual(back.filesAdded, ['pool/main/t/tool/tool_0.1-1_all.deb'], inputs);
      const packages = await readFile(join(root, 'comeback/dists/stable/main/binary-amd64/Packages'), 'utf8');
      assert.match(packages, /^Package: tool$/m);
    }
  });

  test('apt publish - an unchanged suite is re-signed once half of validForDays has passed', async () => {
    const root = join(dir, 'repos');
    const dist = distribution('validity', { validForDays: 2 });
    const pkgs = [asPackage(byName.get('hello=1.0-1')!)];
    const then = new Date(Date.now() - 36 * 3_600_000);
    const first = await publishApt({ root, distribution: dist, packages: pkgs, signer, now: then });
    assert.equal(await releaseDueForRefresh(root, dist, new Date(then.getTime() + 3_600_000)), false);
    const now = new Date();
    assert.equal(await releaseDueForRefresh(root, dist, now), true);
    const again = await publishApt({ root, distribution: dist, packages: pkgs, signer, now });
    assert.equal(again.resigned, true);
    assert.deepEqual(again.indexesWritten, []);
    assert.notEqual(again.releaseSha256, first.releaseSha256);
    const release = await readFile(join(root, 'validity/dists/stable/Release'), 'utf8');
    assert.match(release, new RegExp(`Valid-Until: ${releaseDate(new Date(now.getTime() + 2 * 86_400_000))}`));
  });

  test('apt publish - a live writer holding the repo lock is respected; a dead one is taken over', async () => {
    const root = join(dir, 'repos');
    const dist = distribution('locked');
    const pkgs = [asPackage(byName.get('hello=1.0-1')!)];
    await run('mkdir', ['-p', join(root, 'locked/.kiln')]);
    const { spawn } = await import('node:child_process');
    const sleeper = spawn('sleep', ['30'], { stdio: 'ignore' });
    try {
      await writeFile(join(root, 'locked/.kiln/lock'), JSON.stringify({ pid: sleeper.pid, host: 'here' }));
      await assert.rejects(publishApt({ root, distribution: dist, packages: pkgs, signer, now: new Date() }), (e: unknown) => e instanceof PublishError && /being published by process/.test(e.message));
      await assert.rejects(stat(join(root, 'locked/dists')), { code: 'ENOENT' });
    } finally {
      sleeper.kill('SIGKILL');
      await new Promise((r) => sleeper.once('exit', r));
    }
    // The pid is gone now: its lock is stale.
    const report = await publishApt({ root, distribution: dist, packages: pkgs, signer, now: new Date() });
    assert.equal(report.changed, true);
    await assert.rejects(stat(join(root, 'locked/.kiln/lock')), { code: 'ENOENT' });
  });

  test('apt publish - a file whose bytes do not match its sha256 is refused and the published repo is unchanged', async () => {
    const root = join(dir, 'repos');
    const dist = distribution('digest');
    const ok = await publishApt({ root, distribution: dist, packages: [asPackage(byName.get('hello=1.0-1')!)], signer, now: new Date() });
    const tool = byName.get('tool=0.1-1')!;
    const liar = { ...asPackage(tool), files: [{ ...asPackage(tool).files[0], sha256: '0'.repeat(64) }] };
    await assert.rejects(
      publishApt({ root, distribution: dist, packages: [asPackage(byName.get('hello=1.0-1')!), liar], signer, now: new Date() }),
      (e: unknown) => e instanceof DigestMismatchError && e.message.includes(tool.path),
    );
    const release = await readFile(join(root, 'digest/dists/stable/Release'));
    assert.equal((await import('node:crypto')).createHash('sha256').update(release).digest('hex'), ok.releaseSha256);
    await assert.rejects(stat(join(root, 'digest/pool/main/t/tool', tool.name)), { code: 'ENOENT' });
  });

  test("apt publish - inputs: 'link' hard-links verified inputs, makes them world-readable, and leaves nothing behind on a bad digest", async () => {
    const root = join(dir, 'repos');
    const d = await writeDeb(debs, { name: 'linked', version: '1-1', script: 'echo linked' });
    await chmod(d.path, 0o600);
    const report = await publishApt({ root, distribution: distribution('linked'), packages: [asPackage(d)], signer, now: new Date(), inputs: 'link' });
    assert.deepEqual(report.filesAdded, ['pool/main/l/linked/linked_1-1_all.deb']);
    const pooled = await stat(join(root, 'linked', report.filesAdded[0]));
    assert.equal(pooled.ino, (await stat(d.path)).ino);
    assert.equal(pooled.mode & 0o777, 0o644);
    const bad = await writeDeb(debs, { name: 'linkbad', version: '1-1' });
    const liar = { ...asPackage(bad), files: [{ ...asPackage(bad).files[0], sha256: '1'.repeat(64) }] };
    await assert.rejects(publishApt({ root, distribution: distribution('linked'), packages: [asPackage(d), liar], signer, now: new Date(), inputs: 'link' }), DigestMismatchError);
    const { readdir } = await import('node:fs/promises');
    assert.deepEqual(await readdir(join(root, 'linked/pool/main/l/linkbad')), []);
  });

  test('apt publish - a tampered Packages index fails apt-get update on its hash', async () => {
    const root = join(dir, 'repos');
    await publishApt({ root, distribution: distribution('tamper'), packages: [asPackage(byName.get('hello=1.0-1')!)], signer, now: new Date() });
    const idx = join(root, 'tamper/dists/stable/main/binary-amd64');
    // An attacker swaps in a forged index everywhere apt might look for it.
    const forged = (await readFile(join(idx, 'Packages'), 'utf8')).replace('Version: 1.0-1', 'Version: 9.9-9');
    const { readdir } = await import('node:fs/promises');
    await writeFile(join(idx, 'Packages'), forged);
    await writeFile(join(idx, 'Packages.gz'), gzipSync(forged));
    for (const h of await readdir(join(idx, 'by-hash/SHA256'))) {
      const p = join(idx, 'by-hash/SHA256', h);
      const isGz = (await readFile(p))[0] === 0x1f;
      await writeFile(p, isGz ? gzipSync(forged) : forged);
    }
    const r = await aptInContainer({ repoDir: join(root, 'tamper'), keyPath: join(root, 'tamper/tamper-archive-keyring.asc'), suite: 'stable' });
    assert.notEqual(r.exitCode, 0, r.output);
    assert.equal(r.updateOk, false, r.output);
    assert.match(r.output, /Hash Sum mismatch|File has unexpected size/);
  });

  test('apt publish - a repo signed by a key the client does not trust is refused', async () => {
    const root = join(dir, 'repos');
    await publishApt({ root, distribution: distribution('stranger'), packages: [asPackage(byName.get('hello=1.0-1')!)], signer: await newSigner('Stranger'), now: new Date() });
    const trusted = join(dir, 'trusted.asc');
    await writeFile(trusted, signer.publicKeyArmored);
    const r = await aptInContainer({ repoDir: join(root, 'stranger'), keyPath: trusted, suite: 'stable', install: ['hello'] });
    assert.notEqual(r.exitCode, 0, r.output);
    assert.equal(r.updateOk, false, r.output);
    assert.match(r.output, /NO_PUBKEY|not signed/);
  });

  test('apt publish - resignRepository with a renewed key: gpgv and apt accept the new key, the old one no longer verifies', async () => {
    const root = join(dir, 'repos');
    const dist = distribution('renew');
    const repo = join(root, 'renew');
    const firstAt = new Date(Date.now() - 3_600_000);
    const first = await publishApt({ root, distribution: dist, packages: [asPackage(byName.get('hello=1.0-1')!)], signer, now: firstAt });
    const oldKey = join(dir, 'old-renew.asc');
    await writeFile(oldKey, signer.publicKeyArmored);
    const renewed = await newSigner('Kiln Repo Key 2');
    const report = await resignRepository(root, 'renew', renewed, new Date());
    assert.notEqual(report.releases.stable, first.releaseSha256);
    const release = await readFile(join(repo, 'dists/stable/Release'), 'utf8');
    // The whole timestamp (the date alone is the same day for most of the day).
    assert.ok(!release.includes(`Date: ${releaseDate(firstAt)}`), 're-signing writes a new Date');
    const keyAsc = join(repo, 'renew-archive-keyring.asc');
    assert.equal(await readFile(keyAsc, 'utf8'), renewed.publicKeyArmored);
    assert.match(await gpgv(dir, keyAsc, join(repo, 'dists/stable/InRelease')), /Good signature from "Kiln Repo Key 2/);
    await assert.rejects(gpgv(dir, oldKey, join(repo, 'dists/stable/InRelease')));
    const r = await aptInContainer({ repoDir: repo, keyPath: keyAsc, suite: 'stable', install: ['hello'], commands: ['hello'] });
    assert.equal(r.exitCode, 0, r.output);
    // A later publish with unchanged content keeps the renewed signature as it is.
    const again = await publishApt({ root, distribution: dist, packages: [asPackage(byName.get('hello=1.0-1')!)], signer: renewed, now: new Date() });
    assert.equal(again.resigned, false);
    assert.equal(again.releaseSha256, report.releases.stable);
  });
});
