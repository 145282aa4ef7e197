// kiln-test: long (scripts/test starts it first, so the run does not end waiting on it)
// A package set end to end, every part real (`kiln up` as a user runs it:
// nats-server, the reconciler, a Docker build agent, the HTTP service serving
// the signed repositories; apt in a container). The example's libkilnhello
// (libkilnhello1 + libkilnhello-dev 1.1) and kilnhello, whose debian/control
// says `Build-Depends: libkilnhello-dev (>= 1.1)` — a package only Kiln's own
// testing repository has:
//  - kilnhello is dispatched only after testing published libkilnhello (the
//    status branch's history shows the order), its build installs
//    libkilnhello-dev from Kiln's repo (served over HTTP, signed-by the
//    release key) and links the library;
//  - both install with apt from Kiln's repo and the program runs;
//  - a new libkilnhello version rebuilds kilnhello as 1.0+kiln1 (a binNMU:
//    same source, new dependencies), recorded on kiln/status, and apt upgrades
//    both in the container that had the first versions.
import assert from 'node:assert/strict';
import { execFile as execFileCb, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from 'yaml';
import { BUILD_IMAGE, BASE_IMAGE, dockerUnavailable } from '../helpers/docker.ts';
import { freePort } from '../helpers/nats.ts';
import { until } from '../helpers/until.ts';

const execFile = promisify(execFileCb);
const KILN = fileURLToPath(new URL('../../bin/kiln.js', import.meta.url));
const cleanups: Array<() => Promise<unknown>> = [];
after(async () => {
  for (const c of cleanups.reverse()) await c().catch(() => undefined);
});

const sh = async (cmd: string, args: string[], cwd?: string) => (await execFile(cmd, args, { cwd, maxBuffer: 64 * 1024 * 1024 })).stdout.trim();
const git = (dir: string, ...args: string[]) => sh('git', ['-c', 'user.name=Test', '-c', 'user.email=test@kiln.invalid', '-c', 'commit.gpgsign=false', '-C', dir, ...args]);

interface Released { name: string; version: string; builds: Record<string, string> }
async function released(meta: string, dist: string): Promise<Released[]> {
  const text = await git(meta, 'show', `kiln/status:releases/${dist}.yaml`).catch(() => '');
  return text ? ((parse(text) as { packages?: Released[] }).packages ?? []) : [];
}
const buildRecord = async (meta: string, key: string, rev = 'kiln/status') => parse(await git(meta, 'show', `${rev}:builds/${key}.yaml`)) as { inputs: { package: string; binNMU?: number; builtAgainst?: Record<string, string> }; state: string };

/** The first kiln/status commit that records a build of `pkg`. */
async function firstCommitRecording(meta: string, pkg: string): Promise<string | undefined> {
  for (const c of (await git(meta, 'rev-list', '--reverse', 'kiln/status')).split('\n')) {
    const hit = await git(meta, 'grep', '-l', '-e', `^  package: ${pkg}$`, c, '--', 'builds').catch(() => '');
    if (hit) return c;
  }
  return undefined;
}

async function inContainer(id: string, script: string): Promise<string> {
  try {
    return await sh('docker', ['exec', id, 'bash', '-euc', `exec 2>&1\n${script}`]);
  } catch (e) {
    throw new Error(`in the apt container: ${(e as { stdout?: string }).stdout ?? (e as Error).message}`);
  }
}

test('package set - the library is published first, the program built against it from Kiln\'s repo, both installed by apt; a new library version rebuilds the program as a binNMU and apt upgrades it', {
  skip: (await dockerUnavailable(BUILD_IMAGE)) ?? (await dockerUnavailable(BASE_IMAGE)),
  timeout: 20 * 60_000,
}, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-pkgset-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc: ChildProcess = spawn(process.execPath, [KILN, 'up', dir, '--listen', `127.0.0.1:${port}`, '--nats-port', '0', '--interval', '2'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, KILN_LOG_LEVEL: 'warn' },
  });
  let out = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (out += d));
  const exited = new Promise((r) => proc.once('exit', r));
  cleanups.push(async () => {
    proc.kill('SIGINT');
    await exited;
  });
  const meta = join(dir, 'metadata');
  const failure = () => `\n--- kiln up:\n${out.slice(-4000)}`;

  // 1. In order: libkilnhello published in testing, then kilnhello built against it and published.
  const first = await until(async () => {
    const t = await released(meta, 'testing');
    return t.some((p) => p.name === 'libkilnhello') && t.find((p) => p.name === 'kilnhello');
  }, 12 * 60_000, `kilnhello published in testing${failure()}`, 1000);
  const program = await buildRecord(meta, first.builds.amd64);
  assert.deepEqual(program.inputs.builtAgainst, { libkilnhello: '1.1' }, 'built against the library version testing publishes');
  assert.equal(program.inputs.binNMU, undefined, 'the first build of kilnhello 1.0 keeps its version');
  const recordedAt = await firstCommitRecording(meta, 'kilnhello');
  assert.ok(recordedAt, 'a status commit records the kilnhello build');
  const before = await released(meta, 'testing').then(() => git(meta, 'show', `${recordedAt}^:releases/testing.yaml`).catch(() => ''));
  assert.match(before, /name: libkilnhello\n/, 'kilnhello was dispatched only once testing published libkilnhello (the commit before its first record)');
  const log = await sh(process.execPath, [KILN, 'logs', '--repo', meta, '--nats', await natsUrl(out), first.builds.amd64.slice(0, 12)]).catch((e: Error) => e.message);
  assert.match(log, new RegExp(`resolving Build-Depends \\(base archive \\+ ${base}/repos/testing testing, preferred\\)`), log.slice(-2000));
  assert.match(log, /libkilnhello-dev=1\.1/, 'libkilnhello-dev 1.1 resolved from Kiln\'s repo');

  // 2. apt installs both from Kiln's signed repository over HTTP; the program runs and greets through the library.
  const key = join(dir, 'repos', 'testing', 'testing-archive-keyring.asc');
  const id = await sh('docker', ['run', '-d', '--rm', '--network', 'host', '-v', `${key}:/etc/apt/keyrings/kiln.asc:ro`, BASE_IMAGE, 'sleep', '1800']);
  cleanups.push(() => sh('docker', ['rm', '-f', id]));
  const installed = await inContainer(id, [
    'rm -f /etc/apt/sources.list /etc/apt/sources.list.d/*',
    `echo 'deb [signed-by=/etc/apt/keyrings/kiln.asc] ${base}/repos/testing testing main' > /etc/apt/sources.list.d/kiln.list`,
    'apt-get update -q --error-on=any >/dev/null',
    'DEBIAN_FRONTEND=noninteractive apt-get install -y -q kilnhello >/dev/null',
    "dpkg-query -W -f='${Package} ${Version}\\n' kilnhello libkilnhello1",
    'kilnhello',
  ].join('\n'));
  assert.match(installed, /^kilnhello 1\.0$/m, installed);
  assert.match(installed, /^libkilnhello1 1\.1$/m, installed);
  assert.match(installed, /^Hello from libkilnhello 1\.1$/m, installed);

  // 3. A new library version: its source and the metadata repo change; kilnhello's source does not.
  const libSrc = join(`${meta}-sources`, 'libkilnhello');
  await writeFile(join(libSrc, 'kilnhello.c'), (await readFile(join(libSrc, 'kilnhello.c'), 'utf8')).replace('"1.1"', '"1.2"'));
  const changelog = await readFile(join(libSrc, 'debian/changelog'), 'utf8');
  await writeFile(join(libSrc, 'debian/changelog'), `libkilnhello (1.2) unstable; urgency=medium\n\n  * Greet as 1.2.\n\n -- Kiln Test <test@kiln.invalid>  Sun, 22 Nov 2026 00:00:00 +0000\n\n${changelog}`);
  await git(libSrc, 'commit', '-qam', 'libkilnhello 1.2');
  const pkgFile = join(meta, 'packages', 'libkilnhello.yaml');
  await writeFile(pkgFile, (await readFile(pkgFile, 'utf8')).replace(/^version: .*$/m, 'version: "1.2"'));
  await git(meta, 'commit', '-qam', 'libkilnhello 1.2');

  const rebuilt = await until(async () => {
    const t = await released(meta, 'testing');
    const p = t.find((x) => x.name === 'kilnhello');
    if (!t.some((x) => x.name === 'libkilnhello' && x.version === '1.2') || !p || p.builds.amd64 === first.builds.amd64) return undefined;
    return p;
  }, 12 * 60_000, `kilnhello rebuilt against libkilnhello 1.2 and published${failure()}`, 1000);
  const again = await buildRecord(meta, rebuilt.builds.amd64);
  assert.equal(again.state, 'succeeded');
  assert.equal(again.inputs.binNMU, 1, 'a rebuild of unchanged kilnhello 1.0 is binNMU 1, recorded on kiln/status');
  assert.deepEqual(again.inputs.builtAgainst, { libkilnhello: '1.2' });
  assert.equal(rebuilt.version, '1.0', 'the release keeps the declared version; its binaries carry 1.0+kiln1');
  const log2 = await sh(process.execPath, [KILN, 'logs', '--repo', meta, '--nats', await natsUrl(out), rebuilt.builds.amd64.slice(0, 12)]).catch((e: Error) => e.message);
  assert.match(log2, /libkilnhello-dev=1\.2/, 'the new libkilnhello-dev resolved from Kiln\'s repo');
  const depsImage = (l: string) => /kiln: Build-Depends (?:installed into|from cached) image (kiln-deps:[0-9a-f]{64})/.exec(l)?.[1];
  assert.ok(depsImage(log) && depsImage(log2), 'both builds ran in a dependency image');
  assert.notEqual(depsImage(log2), depsImage(log), 'a new libkilnhello-dev makes another dependency image (keyed by resolved versions and digests)');
  assert.match(log2, /binNMU: debian\/changelog now starts with kilnhello \(1\.0\+kiln1\)/);

  // 4. apt upgrades the program (a higher version, same source) and the library in the same container.
  const upgraded = await inContainer(id, [
    'apt-get update -q --error-on=any >/dev/null',
    'DEBIAN_FRONTEND=noninteractive apt-get upgrade -y -q >/dev/null',
    "dpkg-query -W -f='${Package} ${Version}\\n' kilnhello libkilnhello1",
    'kilnhello',
  ].join('\n'));
  assert.match(upgraded, /^kilnhello 1\.0\+kiln1$/m, upgraded);
  assert.match(upgraded, /^libkilnhello1 1\.2$/m, upgraded);
  assert.match(upgraded, /^Hello from libkilnhello 1\.2$/m, upgraded);
});

/** The NATS URL `kiln up` printed. */
async function natsUrl(out: string): Promise<string> {
  const m = /nats:\/\/127\.0\.0\.1:\d+/.exec(out);
  assert.ok(m, `kiln up printed its NATS URL:\n${out}`);
  return m[0];
}
