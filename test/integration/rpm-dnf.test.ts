// rpm end to end with real parts: a spec made by the test is built by the rpm
// runner in real Docker (rpmbuild in kiln/bookworm-rpm, no network, non-root),
// published by publishDnf (rpm header signatures by the release key, createrepo_c, a signed
// repomd.xml) and installed by real dnf in a --network none container with
// gpgcheck=1 and repo_gpgcheck=1 (the dnf install-smoke gate), which runs it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { after, describe, test } from 'node:test';
import { RpmRunner } from '../../agents/rpm-runner.ts';
import type { RunOutcome } from '../../agents/runner.ts';
import { runDnfInstallSmokeGate } from '../../reconciler/gate/dnf-install-smoke.ts';
import { sha256File } from '../../reconciler/publish/apt/hashes.ts';
import { publishDnf, type RpmInput } from '../../reconciler/publish/dnf/publish.ts';
import { resignDnf } from '../../reconciler/publish/dnf/resign.ts';
import { readRpm } from '../../reconciler/publish/rpm/read-rpm.ts';
import { generateKey, loadSigner, type Signer } from '../../reconciler/signing/signer.ts';
import { makeJob, quietLog } from '../fixtures/agent-jobs.ts';
import { rpmSpec, type RpmSpecOptions } from '../fixtures/rpm-source.ts';
import { docker, dockerUnavailable } from '../helpers/docker.ts';
import { servedRpm } from '../helpers/rpm.ts';

const RPM_IMAGE = 'kiln/bookworm-rpm';
const run = promisify(execFile);
const skip = await dockerUnavailable(RPM_IMAGE);

async function newSigner(name: string): Promise<Signer> {
  const k = await generateKey({ name, email: `${name.toLowerCase().replace(/\W/g, '')}@example.org` });
  return loadSigner(k.privateKeyArmored);
}

/** Builds live in a temp root of their own: never in the repository, whichever tests ran before. */
let buildRoot = '';

async function build(o: RpmSpecOptions & { job?: { package?: string; version?: string } }): Promise<{ out: RunOutcome; log: string }> {
  buildRoot ||= await mkdtemp(join(tmpdir(), 'kiln-rpm-builds-'));
  const dir = await mkdtemp(join(buildRoot, 'build-'));
  const src = join(dir, 'work', 'src');
  await mkdir(join(src, 'rpm'), { recursive: true });
  await writeFile(join(src, 'rpm', 'hello.spec'), rpmSpec(o));
  const base = makeJob({ url: src, commit: '0'.repeat(40), package: o.job?.package ?? o.name ?? 'kiln-hello-rpm', version: o.job?.version ?? `${o.version ?? '1.0'}-${o.release ?? '1'}`, image: RPM_IMAGE });
  const job = { ...base, inputs: { ...base.inputs, recipe: { format: 'rpm', rebuild: 0, spec: 'rpm/hello.spec' }, arch: 'amd64' } };
  const chunks: Buffer[] = [];
  const out = await new RpmRunner({ log: quietLog }).run(job, { root: join(dir, 'work'), sourceDir: src, buildDir: src }, { onLog: (b) => chunks.push(b), signal: new AbortController().signal });
  return { out, log: Buffer.concat(chunks).toString() };
}

async function input(path: string, pkg: string, version: string): Promise<RpmInput> {
  const { sha256, size } = await sha256File(path);
  return { name: basename(path), sha256, size, path, package: pkg, version };
}

const gate = (root: string, version = '1.0-1', smoke = 'kiln-hello-rpm | grep -qx "hello from kiln-hello-rpm"') =>
  runDnfInstallSmokeGate({ docker, image: RPM_IMAGE, root, from: 'testing', distribution: 'stable', package: 'kiln-hello-rpm', version, smoke, timeoutSeconds: 120, log: quietLog });

describe('rpm and dnf', { skip }, () => {
  after(() => (buildRoot ? rm(buildRoot, { recursive: true, force: true }) : undefined));
  let root = '';
  let binary = '';
  let signer: Signer;

  test('rpm runner - rpmbuild -ba of a spec made by the test: a binary rpm and the .src.rpm', async (t) => {
    root = await mkdtemp(join(tmpdir(), 'kiln-rpm-'));
    signer = await newSigner('Kiln RPM Test');
    const { out, log } = await build({});
    assert.equal(out.exitCode, 0, log);
    assert.equal(out.failure, undefined, log);
    const names = out.artifacts.map((a) => basename(a)).sort();
    assert.deepEqual(names, ['kiln-hello-rpm-1.0-1.noarch.rpm', 'kiln-hello-rpm-1.0-1.src.rpm']);
    binary = out.artifacts.find((a) => a.endsWith('.noarch.rpm'))!;
    const h = await readRpm(binary);
    assert.deepEqual([h.name, h.version, h.release, h.arch, h.source, h.signedBy], ['kiln-hello-rpm', '1.0', '1', 'noarch', false, undefined]);
    assert.match(log, /rpmbuild -ba --target x86_64/);
    assert.match(log, /no network/);
    t.diagnostic(`built ${names.join(', ')}`);
  });

  test('rpm runner - a spec that does not parse fails with rpm\'s message and the spec path', async () => {
    const { out } = await build({ extra: ['Bogus-Tag: nonsense'] });
    assert.equal(out.failure?.class, 'build');
    assert.match(out.failure!.reason, /^rpm\/hello\.spec: rpmspec cannot parse the spec/);
    assert.match(out.failure!.reason, /Bogus-Tag|Unknown tag/);
    assert.doesNotMatch(out.failure!.reason, /\/src\/work/);
    assert.deepEqual(out.artifacts, []);
  });

  test('rpm runner - a spec whose version differs from the job is not built', async () => {
    const { out } = await build({ version: '2.0', job: { version: '1.0-1' } });
    assert.equal(out.failure?.class, 'build');
    assert.equal(out.failure!.reason, 'rpm/hello.spec declares kiln-hello-rpm 2.0-1, the job is kiln-hello-rpm 1.0-1');
    assert.deepEqual(out.artifacts, []);
  });

  test('rpm runner - an unmet BuildRequires fails with that reason', async () => {
    const { out, log } = await build({ extra: ['BuildRequires: kiln-no-such-package'] });
    assert.equal(out.failure?.class, 'build', log);
    // No repository of the image offers it (kiln/bookworm-rpm configures none): dnf's reason.
    assert.match(out.failure!.reason, /^BuildRequires cannot be met \(kiln-no-such-package\): Error: There are no enabled repositories/);
  });

  test('dnf publish - signed rpm and repomd.xml; real dnf installs it with gpgcheck=1 and repo_gpgcheck=1 and runs it', async () => {
    const report = await publishDnf({ root, distribution: { name: 'testing' }, packages: [await input(binary, 'kiln-hello-rpm', '1.0-1')], signer, now: new Date() });
    assert.equal(report.changed, true);
    const repo = join(root, 'testing');
    const published = join(repo, report.rpms[0].file);
    assert.equal((await readRpm(published)).signedBy, signer.fingerprint.slice(-16));
    assert.equal((await sha256File(join(repo, 'repodata/repomd.xml'))).sha256, report.repomdSha256);
    assert.equal(await readFile(join(repo, 'RPM-GPG-KEY-testing'), 'utf8'), signer.publicKeyArmored);
    const repoFile = await readFile(join(repo, 'testing.repo'), 'utf8');
    assert.match(repoFile, /^gpgcheck=1$/m);
    assert.match(repoFile, /^repo_gpgcheck=1$/m);
    // The signature is checked by gpg as well, not only by dnf.
    const home = await mkdtemp(join(tmpdir(), 'kiln-gpg-'));
    const env = { ...process.env, GNUPGHOME: home };
    await run('gpg', ['--batch', '--import', join(repo, 'RPM-GPG-KEY-testing')], { env });
    await run('gpg', ['--batch', '--verify', join(repo, 'repodata/repomd.xml.asc'), join(repo, 'repodata/repomd.xml')], { env });
    await run('gpgconf', ['--kill', 'all'], { env });
    await rm(home, { recursive: true, force: true });

    const g = await gate(root);
    assert.equal(g.verdict, 'passed', `${g.reason}\n${g.logTail}`);
    assert.match(g.logTail ?? '', /hello from kiln-hello-rpm|passed/);
    // A second publish of the same content changes nothing.
    const again = await publishDnf({ root, distribution: { name: 'testing' }, packages: [await input(binary, 'kiln-hello-rpm', '1.0-1')], signer, now: new Date() });
    assert.equal(again.changed, false);
    assert.equal(again.repomdSha256, report.repomdSha256);
  });

  test('dnf publish - a tampered repomd.xml is refused by dnf', async (t) => {
    const copy = await mkdtemp(join(tmpdir(), 'kiln-rpm-tamper-'));
    t.after(() => rm(copy, { recursive: true, force: true }));
    await run('cp', ['-a', join(root, 'testing'), join(copy, 'testing')]);
    const repomd = join(copy, 'testing/repodata/repomd.xml');
    await writeFile(repomd, (await readFile(repomd, 'utf8')).replace(/<revision>\d+<\/revision>/, '<revision>1</revision>'));
    const g = await gate(copy);
    assert.equal(g.verdict, 'failed');
    assert.match(g.reason ?? "", /GPG|signature/i, g.logTail ?? "");
  });

  test('dnf publish - an unsigned rpm is refused by dnf', async (t) => {
    const copy = await mkdtemp(join(tmpdir(), 'kiln-rpm-unsigned-'));
    t.after(() => rm(copy, { recursive: true, force: true }));
    const repo = join(copy, 'testing');
    await run('cp', ['-a', join(root, 'testing'), repo]);
    // The unsigned build in place of the signed file, with repodata and repomd.xml.asc made to match it.
    const [file] = await readdir(join(repo, 'packages'));
    await copyFile(binary, join(repo, 'packages', file!));
    await run('createrepo_c', ['--quiet', '--no-database', join(repo)]);
    await writeFile(join(repo, 'repodata/repomd.xml.asc'), await signer.signDetached(await readFile(join(repo, 'repodata/repomd.xml'))));
    const g = await gate(copy);
    assert.equal(g.verdict, 'failed');
    assert.match(g.reason ?? "", /not signed|GPG check FAILED/, g.logTail ?? "");
  });

  test('dnf publish - an rpm whose header names another package is refused and nothing is published', async () => {
    const repo = join(root, 'testing');
    const before = await readFile(join(repo, 'repodata/repomd.xml'), 'utf8');
    const files = await readdir(join(repo, 'packages'));
    await assert.rejects(
      publishDnf({ root, distribution: { name: 'testing' }, packages: [await input(binary, 'kiln-other', '1.0-1')], signer, now: new Date() }),
      (e: Error & { code?: string }) => e.code === 'KILN_PUBLISH_INPUT' && /header names kiln-hello-rpm 1\.0-1, expected kiln-other 1\.0-1; nothing published/.test(e.message),
    );
    assert.equal(await readFile(join(repo, 'repodata/repomd.xml'), 'utf8'), before);
    assert.deepEqual(await readdir(join(repo, 'packages')), files);
    // A digest that does not match is refused too.
    const bad = { ...(await input(binary, 'kiln-hello-rpm', '1.0-1')), sha256: '0'.repeat(64) };
    await assert.rejects(publishDnf({ root, distribution: { name: 'testing' }, packages: [bad], signer, now: new Date() }), (e: Error & { code?: string }) => e.code === 'KILN_DIGEST_MISMATCH');
  });

  test('dnf publish - a new version is added, the old one leaves the repodata at once and the disk after the retention time', async () => {
    const { out, log } = await build({ version: '1.1', message: 'hello again' });
    assert.equal(out.exitCode, 0, log);
    const v2 = out.artifacts.find((a) => a.endsWith('.noarch.rpm'))!;
    const t0 = new Date();
    const r = await publishDnf({ root, distribution: { name: 'testing' }, packages: [await input(v2, 'kiln-hello-rpm', '1.1-1')], signer, now: t0, retainSeconds: 60 });
    assert.deepEqual(r.rpms.map((x) => x.file), ['packages/kiln-hello-rpm-1.1-1.noarch.rpm']);
    const repo = join(root, 'testing');
    assert.ok(await stat(join(repo, 'packages/kiln-hello-rpm-1.0-1.noarch.rpm')), 'kept for readers of the old repodata');
    const g = await gate(root, '1.1-1', 'kiln-hello-rpm | grep -qx "hello again"');
    assert.equal(g.verdict, 'passed', `${g.reason}\n${g.logTail}`);
    const gone = await gate(root, '1.0-1', '');
    assert.equal(gone.verdict, 'failed', 'the pruned version is no longer installable');
    await publishDnf({ root, distribution: { name: 'testing' }, packages: [await input(v2, 'kiln-hello-rpm', '1.1-1')], signer, now: new Date(t0.getTime() + 61_000), retainSeconds: 60 });
    assert.deepEqual(await readdir(join(repo, 'packages')), ['kiln-hello-rpm-1.1-1.noarch.rpm']);
    const repomd = await readFile(join(repo, 'repodata/repomd.xml'), 'utf8');
    const named = [...repomd.matchAll(/href="repodata\/([^"]+)"/g)].map((m) => m[1]).sort();
    assert.deepEqual((await readdir(join(repo, 'repodata'))).filter((n) => !n.startsWith('repomd.xml')).sort(), named);
  });

  test('dnf publish - re-signed with a renewed key, dnf installs with the new key only', async () => {
    const renewed = await newSigner('Kiln RPM Renewed');
    const parts = await resignDnf(root, 'testing', renewed, new Date());
    assert.ok(parts.parts.length >= 2);
    const repo = join(root, 'testing');
    assert.equal(await readFile(join(repo, 'RPM-GPG-KEY-testing'), 'utf8'), renewed.publicKeyArmored);
    assert.equal((await readRpm(servedRpm(repo, 'kiln-hello-rpm-1.1-1.noarch.rpm'))).signedBy, renewed.fingerprint.slice(-16));
    const g = await gate(root, '1.1-1', 'kiln-hello-rpm');
    assert.equal(g.verdict, 'passed', `${g.reason}\n${g.logTail}`);
    await rm(root, { recursive: true, force: true });
  });
});
