// kiln-test: long (scripts/test starts it first, so the run does not end waiting on it)
// `kiln up` as a user runs it (the CLI, a child process, real nats-server,
// Docker agent and gate): the example is built, published to testing, gated,
// promoted to stable and visible through the API; Ctrl-C (SIGINT) stops
// everything; a second `kiln up DIR` resumes from the same state.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/nats.ts';
import { until } from '../helpers/kiln-service.ts';
import { upAgentId } from '../../reconciler/up/run-up.ts';
import { untagRegistryImages } from '../helpers/docker.ts';

const KILN = fileURLToPath(new URL('../../bin/kiln.js', import.meta.url));
const dirs: string[] = [];
const registries: string[] = [];
const running: ChildProcess[] = [];
after(async () => {
  // A test that failed midway leaves its kiln up running: stop it (it stops its children) before its state goes.
  await Promise.all(running.filter((p) => p.exitCode === null && p.signalCode === null).map((p) => new Promise((r) => (p.once('exit', r), p.kill('SIGINT')))));
  await untagRegistryImages(registries);
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function up(dir: string, port: number, env: NodeJS.ProcessEnv = process.env, extra: string[] = []): { proc: ChildProcess; out: () => string; exit: Promise<number | null> } {
  const proc = spawn(process.execPath, [KILN, 'up', dir, '--listen', `127.0.0.1:${port}`, '--nats-port', '0', '--interval', '2', ...extra], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...env, KILN_LOG_LEVEL: 'warn' } });
  running.push(proc);
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  return { proc, out: () => out, exit: new Promise((r) => proc.once('exit', (code) => r(code))) };
}

const json = async (url: string) => (await fetch(url)).json() as Promise<any>;
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

test('kiln up - the example is built, published, promoted and visible in the API; Ctrl-C stops everything; a second start resumes', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-up-'));
  dirs.push(dir);
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const first = up(dir, port);
  await until(() => first.out().includes('Kiln is up'), 60_000, `kiln up ready:\n${first.out()}`);
  assert.match(first.out(), /created release key .*kiln-release\.key\.asc/);
  assert.match(first.out(), new RegExp(`dashboard +${base}/`));
  const stable = await until(async () => {
    const d = await json(`${base}/api/v1/distributions/stable`).catch(() => undefined);
    return d?.release?.packages?.some((p: { name: string }) => p.name === 'hello-kiln') ? d : undefined;
  }, 420_000, 'hello-kiln promoted to stable');
  assert.deepEqual(stable.promotions.map((p: { package: string; state: string }) => `${p.package}:${p.state}`), ['hello-kiln:published']);
  // The example's package set: kilnhello builds once testing has published libkilnhello.
  await until(async () => {
    const d = await json(`${base}/api/v1/distributions/testing`).catch(() => undefined);
    return d?.release?.packages?.some((p: { name: string }) => p.name === 'kilnhello') ? d : undefined;
  }, 420_000, 'kilnhello published in testing');
  // The example's images: kiln-base FROM the Debian image kiln up seeded into its candidate registry,
  // hello-kiln-image FROM kiln-base with hello-kiln from stable, gated and promoted to the production registry.
  registries.push(...[...first.out().matchAll(/registry +(127\.0\.0\.1:\d+)/g)].map((m) => m[1]));
  assert.match(first.out(), /registry +127\.0\.0\.1:\d+ \(candidate: agents push here\)/);
  const production = await until(async () => {
    const d = await json(`${base}/api/v1/distributions/production`).catch(() => undefined);
    return d?.release?.packages?.some((p: { name: string }) => p.name === 'hello-kiln-image') ? d : undefined;
  }, 420_000, 'hello-kiln-image promoted to production');
  assert.deepEqual(production.promotions.map((p: { package: string; state: string }) => `${p.package}:${p.state}`), ['hello-kiln-image:published']);
  // This run's registry credentials (0600): the reconciler's read production, the agents' are refused there, as is anonymous.
  const candHost = /registry +(127\.0\.0\.1:\d+) \(candidate/.exec(first.out())![1];
  const prodHost = registries.find((r) => r !== candHost)!;
  const authDir = join(dir, 'registries', 'auth');
  for (const f of ['agent.json', 'reconciler.json']) assert.equal((await stat(join(authDir, f))).mode & 0o777, 0o600, f);
  const inspect = (auth: string[]) => spawnSync('skopeo', ['inspect', '--raw', '--tls-verify=false', ...auth, `docker://${prodHost}/kiln/hello-kiln-image:1.0-1`], { encoding: 'utf8' });
  assert.equal(inspect(['--authfile', join(authDir, 'reconciler.json')]).status, 0);
  for (const auth of [['--authfile', join(authDir, 'agent.json')], []]) assert.match(inspect(auth).stderr, /unauthorized|authentication required/i, auth.join(' ') || 'anonymous');
  // The example's rpm: built by the rpm pool's agent, promoted into the dnf repository rpm-stable.
  await until(async () => {
    const d = await json(`${base}/api/v1/distributions/rpm-stable`).catch(() => undefined);
    return d?.release?.packages?.some((p: { name: string }) => p.name === 'hello-rpm') ? d : undefined;
  }, 420_000, 'hello-rpm promoted to rpm-stable');
  const repomdSig = await fetch(`${base}/repos/rpm-stable/repodata/repomd.xml.asc`);
  assert.equal(repomdSig.status, 200);
  const builds = await json(`${base}/api/v1/builds`);
  assert.deepEqual(
    builds.builds.map((b: { package: string; state: string }) => `${b.package}:${b.state}`).sort(),
    ['hello-kiln-image:succeeded', 'hello-kiln:succeeded', 'hello-rpm:succeeded', 'kiln-base:succeeded', 'kilnhello:succeeded', 'libkilnhello:succeeded'],
  );
  const inRelease = await fetch(`${base}/repos/stable/dists/stable/InRelease`);
  assert.equal(inRelease.status, 200);
  assert.match(await inRelease.text(), /BEGIN PGP SIGNED MESSAGE/);
  const dashboard = await fetch(`${base}/`);
  assert.match(await dashboard.text(), /<script type="module" src="\/ui\/app.js">/);

  const natsPid = await natsPidOf(dir);
  assert.ok(natsPid > 0, 'nats-server runs as a child');
  first.proc.kill('SIGINT');
  assert.equal(await first.exit, 0, first.out());
  assert.match(first.out(), /stopped after \d+ pass/);
  assert.equal(alive(natsPid), false, 'nats-server stopped');

  const second = up(dir, port);
  await until(() => second.out().includes('Kiln is up'), 60_000, 'second start ready');
  assert.doesNotMatch(second.out(), /created /, 'nothing created on resume');
  await until(() => /pass 1 \(start\)/.test(second.out()), 60_000, 'first pass after resume');
  assert.match(second.out(), /pass 1 \(start\)[^\n]*(status unchanged|nothing to do)/, 'nothing rebuilt or republished');
  assert.equal((await json(`${base}/api/v1/builds`)).total, 6);
  second.proc.kill('SIGINT');
  assert.equal(await second.exit, 0, second.out());
});

/** The nats-server child of `kiln up DIR` (its store dir is on its command line). */
async function natsPidOf(dir: string): Promise<number> {
  for (const p of await readdir('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    const cmd = await readFile(`/proc/${p}/cmdline`, 'utf8').catch(() => '');
    if (cmd.startsWith('nats-server') && cmd.includes(join(dir, 'nats'))) return Number(p);
  }
  return 0;
}

test('kiln up - missing prerequisites are named with the command that installs them, and nothing is created', async () => {
  const dir = join(await mkdtemp(join(tmpdir(), 'kiln-up-')), 'state');
  dirs.push(dir);
  const run = up(dir, await freePort(), { ...process.env, PATH: '/nonexistent' });
  assert.equal(await run.exit, 2, run.out());
  assert.match(run.out(), /apt-get install nats-server/);
  assert.match(run.out(), /apt-get install git/);
  assert.equal(await stat(dir).then(() => true, () => false), false, 'no state dir made');
});

test('kiln up - one local agent per pool kiln.yaml declares for the architecture', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-up-pools-'));
  dirs.push(dir);
  const meta = join(dir, 'metadata');
  assert.equal(spawnSync(process.execPath, [KILN, 'init', meta], { encoding: 'utf8' }).status, 0);
  // A second pool for amd64 and a third for arm64 only (no local agent: this host builds amd64).
  const config = join(meta, 'kiln.yaml');
  const text = await readFile(config, 'utf8');
  await writeFile(config, text.replace(/^pools:\n/m, 'pools:\n  tools:\n    architectures: [amd64]\n  ports:\n    architectures: [arm64]\n'));
  const git = (...a: string[]) => assert.equal(spawnSync('git', ['-C', meta, '-c', 'user.name=t', '-c', 'user.email=t@kiln.invalid', '-c', 'commit.gpgsign=false', ...a]).status, 0);
  git('commit', '-qam', 'pools: tools, ports');
  const port = await freePort();
  const run = up(join(dir, 'state'), port, process.env, ['--repo', meta]);
  await until(() => run.out().includes('Kiln is up'), 60_000, `kiln up ready:\n${run.out()}`);
  // Ids unique to this state dir: another `kiln up` on the host must not sweep these agents' containers.
  const id = (pool: string) => upAgentId(join(dir, 'state'), pool, 'amd64');
  assert.match(id('deb'), /^up-deb-amd64-[0-9a-f]{8}$/);
  assert.notEqual(upAgentId(join(dir, 'other'), 'deb', 'amd64'), id('deb'));
  for (const pool of ['deb', 'rpm', 'tools']) assert.ok(run.out().includes(`${id(pool)} (pool ${pool}, log ${join(dir, 'state', 'logs', `agent-${pool}.log`)})`), run.out());
  assert.doesNotMatch(run.out(), /up-ports-/);
  // The template's kiln.yaml declares deb, oci and rpm; tools was added above.
  const agents = await until(async () => {
    const a = await json(`http://127.0.0.1:${port}/api/v1/agents`).catch(() => undefined);
    return a?.agents?.length === 4 ? a.agents : undefined;
  }, 60_000, 'the four agents registered');
  assert.deepEqual(agents.map((a: { id: string; pool: string }) => `${a.id}:${a.pool}`).sort(), ['deb', 'oci', 'rpm', 'tools'].map((p) => `${id(p)}:${p}`));
  run.proc.kill('SIGINT');
  assert.equal(await run.exit, 0, run.out());
});
