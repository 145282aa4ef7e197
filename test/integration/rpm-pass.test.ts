// The rpm path through real reconcile passes: nats-server, an agent with the rpm
// runner (rpmbuild in kiln/bookworm-rpm, no network), the reconciler signing rpm
// headers and publishing a `testing` dnf repository, the install-smoke gate
// (dnf in a clean network-less container), promotion into `stable`, and real dnf
// installing and running the package from `stable` with gpgcheck=1 and
// repo_gpgcheck=1. kiln/status records each rpm's signed digest and header
// signature (signed once, at collect: the build record names the copy every
// distribution serves). Then an rpm whose header names another package, and one named like
// a subpackage of it that is a declared package of its own, both reported by a
// stand-in agent, are refused at collect before anything of them is published.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test, type TestContext } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { parse } from 'yaml';
import { Agent } from '../../agents/agent.ts';
import { RpmRunner } from '../../agents/rpm-runner.ts';
import { RunnersByFormat } from '../../agents/runners.ts';
import { runDnfInstallSmokeGate } from '../../reconciler/gate/dnf-install-smoke.ts';
import { sha256File } from '../../reconciler/publish/apt/hashes.ts';
import { armoredHeaderSignature } from '../../reconciler/publish/dnf/sign-rpms.ts';
import { resignDnf } from '../../reconciler/publish/dnf/resign.ts';
import { readRpm } from '../../reconciler/publish/rpm/read-rpm.ts';
import { openNatsSession } from '../../reconciler/pipeline/nats-session.ts';
import type { Reconciler } from '../../reconciler/reconciler-setup.ts';
import type { ReleaseRecord } from '../../schema/status.ts';
import { STATUS_BRANCH, STATUS_LAYOUT } from '../../schema/status.ts';
import { rpmSpec } from '../fixtures/rpm-source.ts';
import { docker, dockerUnavailable } from '../helpers/docker.ts';
import { commitFiles, makeRepo } from '../helpers/git.ts';
import { openPublishingReconciler, quietLog } from '../helpers/kiln-service.ts';
import { startNats, type NatsServer } from '../helpers/nats.ts';
import { reportBuiltRpm, servedRpm, writeRpm, type WrittenRpm } from '../helpers/rpm.ts';
import { until } from '../helpers/until.ts';

const run = promisify(execFile);
const RPM_IMAGE = 'kiln/bookworm-rpm';
const KILN_YAML = 'trust:\n  keys: []\n  requireSignedCommits: false\npools:\n  rpm:\n    architectures: [amd64]\ndefaults:\n  pool: rpm\n  maxAttempts: 1\n  keep: 3\n';
const SMOKE = 'kiln-hello-rpm | grep -qx "hello from kiln-hello-rpm"';
const pkgFile = (src: string, name = 'kiln-hello-rpm', spec = 'rpm/hello.spec') =>
  `name: ${name}\nformat: rpm\nversion: 1.0-1\nsource: { git: ${src}, ref: main, subdir: pkg }\nspec: ${spec}\narchitectures: [amd64]\nrelease: [testing, stable]\nsmoke: '${SMOKE}'\n`;
const dnfDist = (name: string, extra = '') => `name: ${name}\nformat: dnf\narchitectures: [amd64]\n${extra}`;

let dir: string;
let nats: NatsServer;
let nc: NatsConnection;
let rec: Reconciler;
let agent: Agent;
let repoDir: string;
let src: string;

const onStatus = async (path: string): Promise<string | undefined> => {
  try {
    return (await run('git', ['-C', repoDir, 'show', `${STATUS_BRANCH}:${path}`])).stdout;
  } catch {
    return undefined;
  }
};
const release = async (dist: string) => {
  const text = await onStatus(`releases/${dist}.yaml`);
  return text ? (parse(text) as ReleaseRecord) : undefined;
};

describe('rpm pass', { skip: await dockerUnavailable(RPM_IMAGE) }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-rpm-pass-'));
    nats = await startNats();
    nc = await connect({ servers: nats.url, name: 'test-agent' });
    await mkdir(join(dir, 'src'));
    src = (await makeRepo({ 'pkg/rpm/hello.spec': rpmSpec({}), 'pkg/rpm/libs.spec': rpmSpec({ name: 'kiln-hello-rpm-libs' }) }, { dir: join(dir, 'src') })).dir;
    repoDir = (
      await makeRepo({
        'kiln.yaml': KILN_YAML,
        'packages/kiln-hello-rpm.yaml': pkgFile(src),
        'distributions/testing.yaml': dnfDist('testing'),
        'distributions/stable.yaml': dnfDist('stable', 'promoteFrom: testing\ngate: install-smoke\n'),
      })
    ).dir;
    rec = await openPublishingReconciler(dir, repoDir, nats.url);
    const runner = new RunnersByFormat({ rpm: new RpmRunner({ log: quietLog, labels: { 'kiln.test': 'rpm-pass' } }) });
    agent = new Agent({ nc, pool: 'rpm', arch: 'amd64', workDir: join(dir, 'agent'), log: quietLog, id: 'rpm-agent', heartbeatMs: 300, runner, pullExpiresMs: 1000 });
    await agent.start();
  });
  after(async () => {
    await agent?.close({ hard: true }).catch(() => undefined);
    await rec?.close();
    await nc?.close();
    await nats?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('rpm pass - built, signed, published to testing, gated with dnf, promoted to stable; dnf installs it from stable with both signature checks', async (t) => {
    const stable = await until(
      async () => {
        await rec.runPass();
        const r = await release('stable');
        return r?.packages.length ? r : undefined;
      },
      300_000,
      'kiln-hello-rpm in the stable release on kiln/status',
    );
    const testing = (await release('testing'))!;
    const [pkg] = testing.packages;
    assert.deepEqual([pkg.name, pkg.version], ['kiln-hello-rpm', '1.0-1']);
    const build = parse((await onStatus(`builds/${pkg.builds.amd64}.yaml`))!) as { state: string; artifacts: Array<{ name: string; sha256: string }>; signed?: Array<{ name: string; built: string; sha256: string; signingKey: string; signature?: string }> };
    assert.equal(build.state, 'succeeded');
    assert.deepEqual(build.artifacts.map((a) => a.name).sort(), ['kiln-hello-rpm-1.0-1.noarch.rpm', 'kiln-hello-rpm-1.0-1.src.rpm']);
    const gate = parse((await onStatus(STATUS_LAYOUT.gate('stable', 'kiln-hello-rpm', '1.0-1')))!) as { verdict: string; from: string };
    assert.deepEqual([gate.verdict, gate.from], ['passed', 'testing']);

    // The rpm's header was signed once, at collect: the build record names the signed copy (the .src.rpm is not released, not signed).
    const recordKey = testing.signingKey!;
    const builtRpm = build.artifacts.find((a) => a.name.endsWith('.noarch.rpm'))!;
    assert.deepEqual(build.signed?.map((s) => [s.name, s.built, s.signingKey]), [[builtRpm.name, builtRpm.sha256, recordKey]]);
    // The release records name each rpm as published: signed in place, its own digest and header signature.
    for (const [name, record] of [['testing', testing], ['stable', stable]] as const) {
      const [signed] = record.packages[0].signed ?? [];
      assert.ok(signed, `${name}: the signed rpm is recorded`);
      const built = build.artifacts.find((a) => a.name.endsWith('.noarch.rpm'))!;
      assert.deepEqual([signed.name, signed.built, signed.signingKey], ['kiln-hello-rpm-1.0-1.noarch.rpm', built.sha256, recordKey]);
      const file = join(dir, 'repos', name, 'packages', signed.name);
      const on = await sha256File(file);
      assert.deepEqual([signed.sha256, signed.size], [on.sha256, on.size], `${name}: the recorded digest is the published file's`);
      assert.notEqual(signed.sha256, built.sha256, 'the published rpm is not the unsigned build');
      assert.deepEqual([signed.sha256, signed.signature], [build.signed![0].sha256, build.signed![0].signature], `${name}: the copy signed at collect is what is published`);
      const header = await readRpm(file);
      assert.equal(signed.signature, await armoredHeaderSignature(header.signatureHex!), `${name}: the recorded signature is the header's`);
      // rpm's own verifier accepts the header signature with the published key.
      const db = await mkdtemp(join(dir, 'rpmdb-'));
      await run('rpmkeys', ['--dbpath', db, '--import', join(dir, 'repos', name, `RPM-GPG-KEY-${name}`)]);
      const { stdout } = await run('rpmkeys', ['--dbpath', db, '--checksig', file]);
      assert.match(stdout, /digests signatures OK/);
    }
    t.diagnostic(`stable signed ${stable.packages[0].signed?.[0]?.sha256.slice(0, 12)}`);

    // Real dnf, no network, only the stable repository: gpgcheck=1, repo_gpgcheck=1; the command runs.
    const repoFile = await readFile(join(dir, 'repos', 'stable', 'stable.repo'), 'utf8');
    assert.match(repoFile, /^gpgcheck=1$/m);
    assert.match(repoFile, /^repo_gpgcheck=1$/m);
    const install = await runDnfInstallSmokeGate({ docker, image: RPM_IMAGE, root: join(dir, 'repos'), from: 'stable', distribution: 'users', package: 'kiln-hello-rpm', version: '1.0-1', smoke: SMOKE, timeoutSeconds: 180, log: quietLog });
    assert.equal(install.verdict, 'passed', `${install.reason}\n${install.logTail}`);
  });

  /** A rebuild of kiln-hello-rpm (metadata `files` committed too) whose result a stand-in agent reports with `rpm` as its only artifact; the build record once judged. */
  async function standInBuild(t: TestContext, rebuild: number, rpm: WrittenRpm, files: Record<string, string> = {}) {
    await commitFiles(repoDir, { ...files, 'packages/kiln-hello-rpm.yaml': `${pkgFile(src)}rebuild: ${rebuild}\n` });
    const report = await until(async () => {
      const r = await rec.runPass();
      return r.plan?.actions.some((a) => a.kind === 'build' && a.inputs.package === 'kiln-hello-rpm') ? r : undefined;
    }, 60_000, 'a build of the rebuild');
    const action = report.plan!.actions.find((a) => a.kind === 'build' && a.inputs.package === 'kiln-hello-rpm')!;
    if (action.kind !== 'build') throw new Error('not a build');
    const session = await openNatsSession(nats.url, { name: 'stand-in-agent', log: quietLog, pools: { rpm: { architectures: ['amd64'] } } });
    t.after(() => session.close());
    await reportBuiltRpm(session, action, rpm);
    return until(async () => {
      await rec.runPass();
      const text = await onStatus(`builds/${action.key}.yaml`);
      const b = text ? (parse(text) as { state: string; failure?: { class: string; reason: string } }) : undefined;
      return b && b.state !== 'queued' ? b : undefined;
    }, 60_000, 'the stand-in result recorded');
  }

  test('rpm pass - an rpm whose header names another package is refused before anything of it is published', async (t) => {
    // A stand-in agent reports, for the next build, an rpm of another name (kiln-hello-rpmx is not a subpackage of kiln-hello-rpm).
    const before = await readFile(join(dir, 'repos', 'testing', 'repodata', 'repomd.xml'), 'utf8');
    const packagesBefore = await readdir(join(dir, 'repos', 'testing', 'packages'));
    await agent.close({ hard: true });
    const record = await standInBuild(t, 1, await writeRpm(dir, { name: 'kiln-hello-rpmx', version: '1.0-1' }));
    assert.equal(record.state, 'failed');
    assert.equal(record.failure?.class, 'build');
    assert.match(record.failure?.reason ?? '', /kiln-hello-rpmx-1\.0-1\.noarch\.rpm: the header names package kiln-hello-rpmx, not kiln-hello-rpm or one of its subpackages/);
    assert.equal(await readFile(join(dir, 'repos', 'testing', 'repodata', 'repomd.xml'), 'utf8'), before, 'testing unchanged');
    assert.deepEqual(await readdir(join(dir, 'repos', 'testing', 'packages')), packagesBefore);
  });

  test('rpm pass - an rpm named like a subpackage but belonging to another declared package is refused at collect by the publisher rule; nothing of it recorded or published', async (t) => {
    const before = await readFile(join(dir, 'repos', 'testing', 'repodata', 'repomd.xml'), 'utf8');
    const packagesBefore = await readdir(join(dir, 'repos', 'testing', 'packages'));
    const releasedBefore = await onStatus('releases/testing.yaml');
    // kiln-hello-rpm-libs is a package of its own: kiln-hello-rpm's build may not carry it.
    const libs = await writeRpm(dir, { name: 'kiln-hello-rpm-libs', version: '1.0-1' });
    const record = await standInBuild(t, 2, libs, { 'packages/kiln-hello-rpm-libs.yaml': pkgFile(src, 'kiln-hello-rpm-libs', 'rpm/libs.spec') });
    assert.equal(record.state, 'failed');
    assert.equal(record.failure?.class, 'build');
    assert.match(record.failure?.reason ?? '', /kiln-hello-rpm-libs-1\.0-1\.noarch\.rpm: the header names package kiln-hello-rpm-libs, not kiln-hello-rpm or one of its subpackages \(kiln-hello-rpm-libs is a package of its own\)/);
    assert.equal(await onStatus(STATUS_LAYOUT.signature(libs.sha256)), undefined, 'no signature recorded for it');
    assert.equal(await onStatus('releases/testing.yaml'), releasedBefore, 'the testing release record unchanged');
    assert.equal(await readFile(join(dir, 'repos', 'testing', 'repodata', 'repomd.xml'), 'utf8'), before, 'testing unchanged');
    assert.deepEqual(await readdir(join(dir, 'repos', 'testing', 'packages')), packagesBefore);
  });

  test('rpm pass - after the repository is signed again (kiln keys renew), the next pass leaves the record naming the rpm that is served', async () => {
    const before = (await release('testing'))!.packages[0].signed![0];
    await resignDnf(join(dir, 'repos'), 'testing', rec.signer, new Date());
    // Re-signed under a new path (never over the file the previous repodata names).
    const file = servedRpm(join(dir, 'repos', 'testing'), before.name);
    const now = await sha256File(file);
    assert.notEqual(now.sha256, before.sha256, 'a new header signature');
    const repo = join(dir, 'repos', 'testing');
    const after = await until(async () => {
      await rec.runPass();
      const s = (await release('testing'))?.packages[0].signed?.[0];
      return s && s.sha256 === (await sha256File(servedRpm(repo, before.name))).sha256 ? s : undefined;
    }, 60_000, 'the testing record naming the rpm the live repodata serves');
    // The record is not stale: it names what is served. (The pass repairs the drift by a fresh publish, which
    // serves the copy signed at collect by this same key again, under a new path; a renewal to another key
    // signs anew.)
    const served = servedRpm(repo, before.name);
    assert.equal(after.sha256, (await sha256File(served)).sha256);
    assert.equal(after.signature, await armoredHeaderSignature((await readRpm(served)).signatureHex!));
  });
});
