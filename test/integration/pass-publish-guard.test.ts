// What a pass publishes is checked against what is declared and against what is
// really on disk, through real passes with a real nats-server, git, gpg and apt:
// - a build whose .deb claims another package's name and version is a failed
//   build, and apt keeps installing the real package;
// - a build that yields no .deb (only a .udeb) is a failed build;
// - a package this distribution cannot publish is recorded against that package
//   while the rest of the distribution publishes;
// - a build's source package (.dsc + tarball) is signed and published with a
//   Sources index; one whose .dsc lists a file the build did not upload fails;
// - a lost repos directory or a missing pool file is noticed and republished.
// The agent is stood in for by the test (it publishes what an agent would).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import type { BuildAction } from '../../reconciler/model.ts';
import { reconcilePass, type PassMemo, type PassReport } from '../../reconciler/pass.ts';
import { DEFAULT_POLICY, type PassDeps } from '../../reconciler/pass/deps.ts';
import { openNatsSession, type NatsSession } from '../../reconciler/pipeline/nats-session.ts';
import { generateKey, loadSigner, type Signer } from '../../reconciler/signing/signer.ts';
import { publishApt } from '../../reconciler/publish/index.ts';
import { readObserved } from '../../reconciler/status/reader.ts';
import { formatStatus, summarize } from '../../reconciler/status/summary.ts';
import type { KilnError } from '../../schema/errors.ts';
import type { BuildResult } from '../../schema/messages.ts';
import { OBJECTS, SUBJECTS } from '../../schema/nats.ts';
import { aptInContainer } from '../helpers/apt-container.ts';
import { writeDeb, type DebSpec } from '../helpers/deb.ts';
import { aptDistribution } from '../helpers/distribution.ts';
import { BASE_IMAGE, dockerUnavailable } from '../helpers/docker.ts';
import { commitFiles, git, makeRepo } from '../helpers/git.ts';
import { debSource } from '../fixtures/deb-source.ts';
import { makeGpgHome } from '../helpers/gpg.ts';
import { startNats, type NatsServer } from '../helpers/nats.ts';

const log = pino({ level: process.env.TEST_LOG ?? 'silent' });
let nats: NatsServer;
let session: NatsSession;
let signer: Signer;
const noDocker = await dockerUnavailable(BASE_IMAGE);

before(async () => {
  nats = await startNats();
  session = await openNatsSession(nats.url, { name: 'pass-publish-guard-test', log, pools: { deb: { architectures: ['amd64'] } } });
  signer = await loadSigner((await generateKey({ name: 'release', email: 'release@kiln.invalid' })).privateKeyArmored);
  source = await makeRepo({ README: 'source\n' });
});
after(async () => {
  await session?.close();
  await nats?.dispose();
});

const KILN_YAML = 'trust:\n  requireSignedCommits: false\npools:\n  deb:\n    architectures: [amd64]\n';
/** A source pinned by commit id: the id is checked when the metadata is read, so it must exist. */
let source: { dir: string; commit: string };
const pkg = (name: string, version: string, extra = '') =>
  `name: ${name}\nversion: '${version}'\nsource:\n  git: ${source.dir}\n  ref: ${source.commit}\nformat: deb\narchitectures: [amd64]\nrelease: [testing]\n${extra}`;
const TESTING = 'name: testing\nformat: apt\nsuite: testing\narchitectures: [amd64]\n';

/** Package -> the binaries its debian/control declares, as its agent reports them (default: none reported). Tests share one
 * nats-server and one source commit, so equal package and version mean equal build keys: each test uses its own names. */
const declares = new Map<string, string[]>();

/** What a (possibly hostile) build yields for an action: these files, then a successful result. */
type Yield = (a: BuildAction, dir: string) => Promise<Array<{ name: string; path: string; sha256: string; size: number }>>;
const honest: Yield = async (a, dir) => [await writeDeb(dir, { name: a.package, version: a.version, arch: 'amd64', script: `echo "${a.package} ${a.version} works"` })];
const debOf = (spec: DebSpec): Yield => async (_a, dir) => [await writeDeb(dir, spec)];

async function completeBuild(a: BuildAction, dir: string, yields: Yield): Promise<void> {
  const files = await yields(a, dir);
  const binaries = declares.get(a.package);
  for (const f of files) await session.objectStore.putBlob({ name: OBJECTS.artifact(f.sha256) }, new Uint8Array(await readFile(f.path)));
  const now = new Date().toISOString();
  const result: BuildResult = {
    v: 1, key: a.key, attempt: a.attempt, inputs: a.inputs, pool: a.pool, agent: 'test-agent', outcome: 'succeeded', exitCode: 0,
    artifacts: files.map((f) => ({ name: f.name, sha256: f.sha256, size: f.size })), ...(binaries ? { binaries } : {}), startedAt: now, finishedAt: now,
  };
  await session.js.publish(SUBJECTS.result(a.key), JSON.stringify(result), { msgID: `${a.key}.${a.attempt}.result` });
}

async function setup(files: Record<string, string>) {
  const { dir } = await makeRepo({ 'kiln.yaml': KILN_YAML, 'distributions/testing.yaml': TESTING, ...files });
  const work = await mkdtemp(join(tmpdir(), 'kiln-publish-guard-'));
  const deps: PassDeps = {
    repoDir: dir, rev: 'HEAD', cache: {}, signer, log, now: () => new Date(), random: () => 0.5,
    policy: { ...DEFAULT_POLICY, resultWaitMs: 1000 }, nats: session, reposDir: join(work, 'repos'), artifactsDir: join(work, 'artifacts'), gateImage: BASE_IMAGE,
  };
  return { dir, work, deps, memo: {} as PassMemo };
}

/** Run passes, completing every build action with `yields(a)`, until a pass plans nothing (at most `max`). */
async function converge(deps: PassDeps, memo: PassMemo, work: string, yields: (a: BuildAction) => Yield, max = 6): Promise<PassReport[]> {
  const reports: PassReport[] = [];
  for (let i = 0; i < max; i++) {
    const r = await reconcilePass(deps, memo);
    reports.push(r);
    const builds = (r.plan?.actions ?? []).filter((a): a is BuildAction => a.kind === 'build');
    for (const a of builds) await completeBuild(a, work, yields(a));
    // Converged: nothing to do, and no build still out (a result dropped as a duplicate would leave one waiting).
    if (!r.noop && (r.plan?.actions.length ?? 0) === 0 && !r.plan?.waiting.some((w) => w.reason === 'Building')) return reports;
  }
  throw new Error(`no convergence in ${max} passes: ${JSON.stringify(reports.map((r) => r.plan?.actions.map((a) => `${a.kind} ${a.reason}`)))}`);
}

/** The honest .deb plus a real source package of the action's name and version (dpkg-source -b of a native tree); `drop` leaves that file out. */
const withSource = (drop?: RegExp): Yield => async (a, dir) => {
  const out = await mkdtemp(join(dir, 'src-'));
  const tree = join(out, 'tree');
  for (const [rel, content] of Object.entries(debSource({ name: a.package, version: a.version }))) {
    await mkdir(join(tree, rel, '..'), { recursive: true });
    await writeFile(join(tree, rel), content);
  }
  await chmod(join(tree, 'debian/rules'), 0o755);
  await promisify(execFile)('dpkg-source', ['-b', 'tree'], { cwd: out });
  const files = [...(await honest(a, dir))];
  for (const name of [`${a.package}_${a.version}.dsc`, `${a.package}_${a.version}.tar.xz`]) {
    if (drop?.test(name)) continue;
    const bytes = await readFile(join(out, name));
    files.push({ name, path: join(out, name), size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') });
  }
  return files;
};

const packagesIndex = (work: string) => readFile(join(work, 'repos/testing/dists/testing/main/binary-amd64/Packages'), 'utf8');

test('pass publish guard - a .deb claiming another package and version is a failed build; apt keeps the real package', async () => {
  const { dir, work, deps, memo } = await setup({ 'packages/hello-kiln.yaml': pkg('hello-kiln', '1.0-1'), 'packages/bb.yaml': pkg('bb', '2.0.0') });
  const impostor = debOf({ name: 'hello-kiln', version: '9.9.9', arch: 'amd64', script: 'echo "impostor"' });
  await converge(deps, memo, work, (a) => (a.package === 'bb' ? impostor : honest));

  const { state } = await readObserved({ dir, cache: {} });
  const b = [...state.builds.values()].find((r) => r.inputs.package === 'bb');
  assert.equal(b?.state, 'failed');
  assert.equal(b?.failure?.class, 'build');
  assert.equal(b?.failure?.retryable, false);
  assert.match(b?.failure?.reason ?? '', /Package: hello-kiln, which is not a binary of bb/);
  assert.match(b?.failure?.reason ?? '', /Version: 9\.9\.9, not the declared 2\.0\.0/);
  assert.deepEqual(b?.artifacts ?? [], [], 'nothing of it is kept as an artifact');
  assert.deepEqual(state.releases.get('testing')?.packages.map((p) => `${p.name} ${p.version}`), ['hello-kiln 1.0-1']);
  const index = await packagesIndex(work);
  assert.doesNotMatch(index, /9\.9\.9/);

  if (noDocker) return; // the rest needs an apt client in a container
  const apt = await aptInContainer({ repoDir: join(work, 'repos/testing'), keyPath: join(work, 'repos/testing/testing-archive-keyring.asc'), suite: 'testing', install: ['hello-kiln'], commands: ['hello-kiln', 'dpkg-query -W hello-kiln'] });
  assert.equal(apt.exitCode, 0, apt.output);
  assert.match(apt.output, /hello-kiln 1\.0-1 works/);
  assert.doesNotMatch(apt.output, /impostor/);
});

test('pass publish guard - a build that yields only a .udeb is a failed build, and the distribution goes on publishing', async () => {
  const { dir, work, deps, memo } = await setup({ 'packages/udeb-only.yaml': pkg('udeb-only', '1.0'), 'packages/fine.yaml': pkg('fine', '1.0') });
  const udeb: Yield = async (a, dir) => {
    const d = await writeDeb(dir, { name: a.package, version: a.version, arch: 'amd64' });
    const name = d.name.replace(/\.deb$/, '.udeb');
    await writeFile(join(dir, name), await readFile(d.path));
    return [{ ...d, name, path: join(dir, name) }];
  };
  await converge(deps, memo, work, (a) => (a.package === 'udeb-only' ? udeb : honest));
  const { state } = await readObserved({ dir, cache: {} });
  const u = [...state.builds.values()].find((r) => r.inputs.package === 'udeb-only');
  assert.equal(u?.state, 'failed');
  assert.match(u?.failure?.reason ?? '', /no publishable \.deb \(only udeb-only_1\.0_amd64\.udeb\)/);
  assert.deepEqual(state.releases.get('testing')?.packages.map((p) => p.name), ['fine']);

  // A package added later still reaches the distribution.
  await commitFiles(dir, { 'packages/later.yaml': pkg('later', '1.0') });
  await converge(deps, memo, work, () => honest);
  const after = (await readObserved({ dir, cache: {} })).state;
  assert.deepEqual(after.releases.get('testing')?.packages.map((p) => p.name), ['fine', 'later']);
});

test('pass publish guard - a package the distribution cannot publish is recorded against it; the rest publishes', async () => {
  const { dir, work, deps, memo } = await setup({ 'packages/xx.yaml': pkg('xx', '1.0'), 'packages/yy.yaml': pkg('yy', '1.0') });
  await converge(deps, memo, work, () => honest);
  // x is rebuilt at the same version with other bytes (a published file never changes), while z is added.
  await commitFiles(dir, { 'packages/xx.yaml': pkg('xx', '1.0', 'rebuild: 1\n'), 'packages/zz.yaml': pkg('zz', '1.0') });
  const other = debOf({ name: 'xx', version: '1.0', arch: 'amd64', script: 'echo "xx rebuilt"' });
  const reports = await converge(deps, memo, work, (a) => (a.package === 'xx' ? other : honest));

  const { state } = await readObserved({ dir, cache: {} });
  const testing = state.releases.get('testing');
  assert.deepEqual(testing?.packages.map((p) => p.name), ['xx', 'yy', 'zz'], 'zz is published; the first xx stays');
  const xBuilds = testing?.packages.find((p) => p.name === 'xx')?.builds;
  const rejected = testing?.rejected ?? [];
  assert.equal(rejected.length, 1);
  assert.equal(rejected[0].name, 'xx');
  assert.notDeepEqual(rejected[0].builds, xBuilds, 'the rejection is about the rebuild');
  assert.match(rejected[0].reason, /already published with other bytes/);
  const last = reports.at(-1)!;
  assert.ok(last.plan?.waiting.some((w) => w.reason === 'PublishRejected' && w.subject.includes('xx 1.0')), 'plan says why xx waits');
  assert.match(await packagesIndex(work), /Package: zz/);
  const shown = formatStatus(summarize('kiln/status', { commit: 'c'.repeat(40), summary: 's', date: new Date().toISOString(), signed: true }, state, []));
  assert.match(shown, /not published: xx 1\.0: pool\/main\/x\/xx\/xx_1\.0_amd64\.deb is already published with other bytes/, shown);
});

test('pass publish guard - a lost repos directory and a missing pool file are republished (RepositoryDrift)', async () => {
  const { work, deps, memo } = await setup({ 'packages/pp.yaml': pkg('pp', '1.0'), 'packages/qq.yaml': pkg('qq', '1.0') });
  await converge(deps, memo, work, () => honest);
  const quiet = await reconcilePass(deps, memo);
  assert.equal(quiet.noop, true, 'converged: the next pass is the quiet one');

  await rm(join(work, 'repos'), { recursive: true });
  const drift = await reconcilePass(deps, memo);
  assert.equal(drift.noop, false, 'a vanished repository ends the quiet path');
  const republish = drift.plan?.actions.find((a) => a.kind === 'republish');
  assert.equal(republish?.reason, 'RepositoryDrift');
  assert.match(republish?.message ?? '', /dists\/testing\/Release is missing/);
  assert.deepEqual(drift.published, ['testing']);
  const gpg = await makeGpgHome(signer.publicKeyArmored);
  try {
    const verified = await gpg.verifyCleartext(await readFile(join(work, 'repos/testing/dists/testing/InRelease'), 'utf8'));
    assert.ok(verified.ok, verified.stderr);
  } finally {
    await gpg.dispose();
  }
  assert.match(await packagesIndex(work), /Package: qq/);

  const pool = join(work, 'repos/testing/pool/main/q/qq/qq_1.0_amd64.deb');
  await rm(pool);
  const again = await reconcilePass({ ...deps, policy: { ...deps.policy, quietMaxMs: 0 } }, memo);
  assert.match(again.plan?.actions.find((a) => a.kind === 'republish')?.message ?? '', /pool\/main\/q\/qq\/qq_1\.0_amd64\.deb is missing/);
  await readFile(pool); // back in place
  const settled = await reconcilePass({ ...deps, policy: { ...deps.policy, quietMaxMs: 0 } }, memo);
  assert.deepEqual(settled.plan?.actions ?? [], [], 'a republished repository is as recorded: nothing more to do');
});

test('pass publish guard - the publisher itself refuses a .deb that is not of the package and version it publishes (a record from before the check)', async () => {
  const work = await mkdtemp(join(tmpdir(), 'kiln-publish-guard-'));
  const real = await writeDeb(work, { name: 'hello-kiln', version: '1.0-1', arch: 'amd64' });
  const impostor = await writeDeb(work, { name: 'hello-kiln', version: '9.9.9', arch: 'amd64' });
  const root = join(work, 'repos');
  const input = { root, distribution: aptDistribution('testing', { architectures: ['amd64'] }), signer, now: new Date() };
  await publishApt({ ...input, packages: [{ name: 'hello-kiln', version: '1.0-1', arch: 'amd64', files: [real] }] });
  await assert.rejects(
    publishApt({ ...input, packages: [{ name: 'hello-kiln', version: '1.0-1', arch: 'amd64', files: [real] }, { name: 'bb', version: '2.0.0', arch: 'amd64', files: [impostor] }] }),
    (e: KilnError) => e.code === 'KILN_PUBLISH_INPUT' && e.data.package === 'bb' && e.data.version === '2.0.0' && /is a binary of hello-kiln 9\.9\.9, not of bb 2\.0\.0/.test(e.message),
  );
  const index = await readFile(join(root, 'testing/dists/testing/main/binary-amd64/Packages'), 'utf8');
  assert.doesNotMatch(index, /9\.9\.9/, 'what was published is unchanged');
});

test('pass publish guard - a package whose debian/control declares another package binary cannot take it over in the distribution', async () => {
  const { dir, work, deps, memo } = await setup({ 'packages/hello-kiln.yaml': pkg('hello-kiln', '1.0-2') });
  await converge(deps, memo, work, () => honest);
  // cc's own debian/control declares a binary named hello-kiln, built at cc's declared version: every check on cc alone passes.
  declares.set('cc', ['hello-kiln']);
  await commitFiles(dir, { 'packages/cc.yaml': pkg('cc', '3.0.0') });
  const takeover = debOf({ name: 'hello-kiln', source: 'cc', version: '3.0.0', arch: 'amd64', script: 'echo "impostor"' });
  const reports = await converge(deps, memo, work, (a) => (a.package === 'cc' ? takeover : honest));
  declares.delete('cc');

  const { state } = await readObserved({ dir, cache: {} });
  assert.equal([...state.builds.values()].find((r) => r.inputs.package === 'cc')?.state, 'succeeded', 'the build itself is what cc declares');
  const testing = state.releases.get('testing');
  assert.deepEqual(testing?.packages.map((p) => `${p.name} ${p.version}`), ['hello-kiln 1.0-2']);
  assert.match(testing?.rejected?.[0]?.reason ?? '', /binary package hello-kiln already comes from hello-kiln 1\.0-2 in this suite; cc cannot publish it/);
  assert.ok(reports.at(-1)!.plan?.waiting.some((w) => w.reason === 'PublishRejected'));
  assert.doesNotMatch(await packagesIndex(work), /3\.0\.0/);
});

test('pass publish guard - a source package is signed and published with a Sources index; a .dsc listing a file not uploaded fails the build', async () => {
  const { dir, work, deps, memo } = await setup({ 'packages/srcful.yaml': pkg('srcful', '1.0'), 'packages/srcless.yaml': pkg('srcless', '1.0') });
  await converge(deps, memo, work, (a) => (a.package === 'srcful' ? withSource() : withSource(/\.tar\.xz$/)));
  const { state } = await readObserved({ dir, cache: {} });
  const bad = [...state.builds.values()].find((r) => r.inputs.package === 'srcless');
  assert.equal(bad?.state, 'failed');
  assert.equal(bad?.failure?.class, 'build');
  assert.match(bad?.failure?.reason ?? '', /srcless_1\.0\.dsc lists srcless_1\.0\.tar\.xz, which the build did not yield/);
  assert.deepEqual(state.releases.get('testing')?.packages.map((p) => p.name), ['srcful']);

  const good = [...state.builds.values()].find((r) => r.inputs.package === 'srcful');
  const dsc = good?.artifacts?.find((a) => a.name === 'srcful_1.0.dsc');
  assert.ok(dsc, 'the .dsc is a recorded artifact');
  // Signed like every other artifact: its detached signature is on the status branch.
  assert.match(await git(dir, 'show', `kiln/status:signatures/${dsc.sha256}.asc`), /BEGIN PGP SIGNATURE/);
  const repo = join(work, 'repos/testing');
  const sources = await readFile(join(repo, 'dists/testing/main/source/Sources'), 'utf8');
  assert.match(sources, /^Package: srcful\n/);
  assert.match(sources, /\nDirectory: pool\/main\/s\/srcful\n/);
  assert.match(sources, new RegExp(` ${dsc.sha256} ${dsc.size} srcful_1\\.0\\.dsc\n`));
  assert.match(await readFile(join(repo, 'dists/testing/Release'), 'utf8'), / main\/source\/Sources\.xz\n/);
  await readFile(join(repo, 'pool/main/s/srcful/srcful_1.0.tar.xz'));
});
