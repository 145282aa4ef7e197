// keep: N on a dnf distribution follows rpm's version order (epoch:version-release
// by rpmvercmp), through real reconcile passes: nats-server, the reconciler
// (spec check in kiln/bookworm-rpm, header signing, createrepo_c), a stand-in
// agent reporting rpms built by the host's rpmbuild. Versions chosen so that any
// order but rpm's keeps the wrong ones (1.10 > 1.9, ~ before the release, ^ after
// it, an epoch above everything). After each publish the record on kiln/status,
// createrepo_c's primary.xml and, at the end, real dnf (repoquery in a
// network-less container, both signature checks on) name exactly the N highest.
// The repositories are served over HTTP as `kiln serve` does, and the reconciler
// knows it (as `kiln up` and `kiln reconcile --listen … --repos …` do): the
// generated .repo file names that URL, and dnf in a host-network container
// installs from it taken as-is.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { DNF_INSTALLROOT_CAPABILITIES } from '../../containers/capabilities.ts';
import { runContainer } from '../../containers/run-container.ts';
import { openNatsSession, type NatsSession } from '../../reconciler/pipeline/nats-session.ts';
import type { Reconciler } from '../../reconciler/reconciler-setup.ts';
import { startRepoServer, type RepoServer } from '../../reconciler/serve/repo-server.ts';
import { STATUS_BRANCH, type ReleaseRecord } from '../../schema/status.ts';
import { rpmSpec } from '../fixtures/rpm-source.ts';
import { docker, dockerUnavailable } from '../helpers/docker.ts';
import { commitFiles, makeRepo } from '../helpers/git.ts';
import { openPublishingReconciler, quietLog } from '../helpers/kiln-service.ts';
import { startNats, type NatsServer } from '../helpers/nats.ts';
import { reportBuiltRpm, writeRpm } from '../helpers/rpm.ts';
import { until } from '../helpers/until.ts';

const run = promisify(execFile);
const RPM_IMAGE = 'kiln/bookworm-rpm';
const NAME = 'kiln-keep';
const KILN_YAML = 'trust:\n  keys: []\n  requireSignedCommits: false\npools:\n  rpm:\n    architectures: [amd64]\ndefaults:\n  pool: rpm\n  maxAttempts: 1\n';
const pkgFile = (src: string, version: string) =>
  `name: ${NAME}\nformat: rpm\nversion: ${version}\nsource: { git: ${src}, ref: main }\nspec: keep.spec\narchitectures: [amd64]\nrelease: [testing]\n`;
const DIST = 'name: testing\nformat: dnf\narchitectures: [amd64]\ngate: none\nkeep: 2\n';

/** [E:]V-R as rpm prints it: no epoch when it is 0. */
const evrOf = (epoch: string, ver: string, rel: string) => `${epoch === '0' ? '' : `${epoch}:`}${ver}-${rel}`;

/** The name and [E:]V-R of every package createrepo_c's primary.xml lists, as dnf reads it (repomd.xml first). */
async function primaryVersions(repo: string): Promise<string[]> {
  const repomd = await readFile(join(repo, 'repodata/repomd.xml'), 'utf8');
  const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1];
  const xml = gunzipSync(await readFile(join(repo, href))).toString('utf8');
  return [...xml.matchAll(/<name>([^<]+)<\/name>[\s\S]*?<version epoch="(\d+)" ver="([^"]+)" rel="([^"]+)"/g)].map((m) => `${m[1]} ${evrOf(m[2], m[3], m[4])}`).sort();
}

/** A bash script in a container of the rpm image as root with the installroot capabilities; its exit code and output. */
async function dnfIn(script: string, o: { network: 'none' | 'host'; binds: string[] }): Promise<{ exitCode: number; output: string }> {
  let output = '';
  const exit = await runContainer(
    docker,
    { image: RPM_IMAGE, cmd: ['bash', '-c', `exec 2>&1\n${script}`], role: 'test', user: 'root', network: o.network, capAdd: DNF_INSTALLROOT_CAPABILITIES, binds: o.binds, labels: { 'kiln.test': 'dnf-keep-served' }, timeoutMs: 180_000 },
    { onLog: (b) => void (output += b.toString('utf8')) },
  );
  return { exitCode: exit.exitCode, output };
}

describe('dnf keep and served .repo', { skip: await dockerUnavailable(RPM_IMAGE) }, () => {
  let dir = '';
  let server: RepoServer;
  let nats: NatsServer;
  let session: NatsSession;
  let rec: Reconciler;
  let repoDir = '';
  let src = '';

  const onStatus = (path: string) => run('git', ['-C', repoDir, 'show', `${STATUS_BRANCH}:${path}`]).then((r) => r.stdout, () => undefined);
  const release = async (): Promise<ReleaseRecord | undefined> => {
    const text = await onStatus('releases/testing.yaml');
    return text ? (parse(text) as ReleaseRecord) : undefined;
  };

  /** The metadata and the spec move to `version`; a stand-in agent reports the rpm; passes run until testing publishes it. */
  async function publish(version: string): Promise<ReleaseRecord> {
    const [, epoch, ver, rel] = /^(?:(\d+):)?(.+)-([^-]+)$/.exec(version)!;
    await commitFiles(src, { 'keep.spec': rpmSpec({ name: NAME, version: ver, release: rel, ...(epoch ? { extra: [`Epoch: ${epoch}`] } : {}) }) });
    await commitFiles(repoDir, { [`packages/${NAME}.yaml`]: pkgFile(src, version) });
    const action = await until(async () => (await rec.runPass()).plan?.actions.find((a) => a.kind === 'build'), 60_000, `a build of ${version}`);
    if (action.kind !== 'build') throw new Error('not a build');
    const rpm = await writeRpm(dir, { name: NAME, version });
    await reportBuiltRpm(session, action, rpm);
    let last = '';
    return until(async () => {
      const pass = await rec.runPass();
      last = JSON.stringify({ actions: pass.plan?.actions.map((a) => [a.kind, 'reason' in a ? a.reason : '', 'message' in a ? a.message : '']), waiting: pass.plan?.waiting, record: await release() });
      // A build or publish refused says why at once instead of timing out.
      const build = await onStatus(`builds/${action.key}.yaml`);
      if (build && /^state: failed/m.test(build)) throw new Error(`the build of ${version} failed:\n${build}`);
      const r = await release();
      const rejected = r?.rejected?.find((x) => x.version === version);
      if (rejected) throw new Error(`${version} not published: ${rejected.reason}`);
      // Published and pruned: the desired version is there and nothing beyond keep is left.
      return r?.packages.some((p) => p.version === version) && r.packages.length <= 2 ? r : undefined;
    }, 120_000, `${version} published to testing`).catch((e: Error) => {
      throw new Error(`${e.message}; the last pass: ${last}`);
    });
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-dnf-keep-'));
    nats = await startNats();
    await mkdir(join(dir, 'src'));
    src = (await makeRepo({ 'keep.spec': rpmSpec({ name: NAME }) }, { dir: join(dir, 'src') })).dir;
    repoDir = (await makeRepo({ 'kiln.yaml': KILN_YAML, 'distributions/testing.yaml': DIST })).dir;
    rec = await openPublishingReconciler(dir, repoDir, nats.url);
    // The repositories served as `kiln serve --repos DIR` serves them; the reconciler told where (as kiln up tells itself).
    await mkdir(join(dir, 'repos'), { recursive: true });
    server = await startRepoServer({ root: join(dir, 'repos'), host: '127.0.0.1', port: 0 });
    rec.deps.repoUrl = server.url;
    session = await openNatsSession(nats.url, { name: 'stand-in-agent', log: quietLog, pools: { rpm: { architectures: ['amd64'] } } });
  });
  after(async () => {
    await session?.close();
    await server?.close();
    await rec?.close();
    await nats?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('dnf keep - keep: 2 keeps the two highest versions by rpm order in the record and the repodata; dnf sees exactly those', async (t) => {
    // Each step: the version published, then what testing holds (the two highest by rpm's order).
    const steps: Array<[string, string[]]> = [
      ['1.9-1', ['1.9-1']],
      ['1.10~rc1-1', ['1.10~rc1-1', '1.9-1']], // ~: a pre-release of 1.10, still above 1.9
      ['1.10-1', ['1.10-1', '1.10~rc1-1']], // 1.10 > 1.9 (a string order would keep 1.9)
      ['1.10^git1-1', ['1.10-1', '1.10^git1-1']], // ^: after 1.10, before 1.10.1
      ['1:1.0-1', ['1.10^git1-1', '1:1.0-1']], // an epoch outranks every version without one
    ];
    for (const [version, held] of steps) {
      const record = await publish(version);
      assert.deepEqual(record.packages.map((p) => p.version).sort(), [...held].sort(), `kiln/status after ${version}`);
      assert.deepEqual(await primaryVersions(join(dir, 'repos', 'testing')), held.map((v) => `${NAME} ${v}`).sort(), `primary.xml after ${version}`);
      t.diagnostic(`after ${version}: ${held.join(', ')}`);
    }

    // Real dnf, no network, both signature checks: the repository offers exactly the two.
    const script = [
      'set -e',
      'mkdir -p /tmp/r',
      "printf '[kiln]\\nname=kiln\\nbaseurl=file:///repo\\ngpgcheck=1\\nrepo_gpgcheck=1\\ngpgkey=file:///repo/RPM-GPG-KEY-testing\\n' > /tmp/r/kiln.repo",
      `dnf -y -q --setopt=reposdir=/tmp/r --setopt=cachedir=/tmp/c --installroot=/tmp/root --releasever=1 repoquery --showduplicates --qf '@@%{name} %{evr}' ${NAME}`,
    ].join('\n');
    const out = await dnfIn(script, { network: 'none', binds: [`${join(dir, 'repos', 'testing')}:/repo:ro`] });
    assert.equal(out.exitCode, 0, out.output);
    const listed = out.output.split('\n').filter((l) => l.startsWith('@@')).map((l) => l.slice(2).trim()).sort();
    assert.deepEqual(listed, [`${NAME} 1.10^git1-1`, `${NAME} 1:1.0-1`]);
  });

  test('dnf served .repo - names the URL the repositories are served at; dnf installs with the file as-is over HTTP', async () => {
    const repoFile = await readFile(join(dir, 'repos', 'testing', 'testing.repo'), 'utf8');
    const url = `${server.url}/testing`;
    assert.equal(repoFile, `[kiln-testing]\nname=Kiln testing\nbaseurl=${url}\nenabled=1\ngpgcheck=1\nrepo_gpgcheck=1\ngpgkey=${url}/RPM-GPG-KEY-testing\n`);
    // What a user does: fetch the .repo from the server into a repos dir, unchanged, and install.
    const res = await fetch(`${url}/testing.repo`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), repoFile, 'served as published');
    const reposd = join(dir, 'yum.repos.d');
    await mkdir(reposd);
    await writeFile(join(reposd, 'kiln-testing.repo'), repoFile);
    const script = [
      'set -e',
      `dnf -y --setopt=reposdir=/etc/kiln-repos --setopt=cachedir=/tmp/c --installroot=/tmp/root --releasever=1 install ${NAME}`,
      `echo "@@$(rpm --root /tmp/root -q --qf '%{NAME} %{EVR}' ${NAME})"`,
      `echo "@@$(PATH=/tmp/root/usr/bin:$PATH ${NAME})"`,
      // The older kept version too: its file name has a ^, which travels in the URL.
      `dnf -y --setopt=reposdir=/etc/kiln-repos --setopt=cachedir=/tmp/c --installroot=/tmp/root2 --releasever=1 install '${NAME}-1.10^git1-1'`,
      `echo "@@$(rpm --root /tmp/root2 -q --qf '%{NAME} %{EVR}' ${NAME})"`,
    ].join('\n');
    // Host network, and no bind of the repository: dnf can only reach it over HTTP.
    const out = await dnfIn(script, { network: 'host', binds: [`${reposd}:/etc/kiln-repos:ro`] });
    assert.equal(out.exitCode, 0, out.output);
    assert.deepEqual(out.output.split('\n').filter((l) => l.startsWith('@@')).map((l) => l.slice(2).trim()), [`${NAME} 1:1.0-1`, `hello from ${NAME}`, `${NAME} 1.10^git1-1`]);
  });
});
