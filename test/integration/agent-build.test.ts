// The agent building real Debian packages in the real Docker Engine, fed by a
// real nats-server, from real git repositories (local path and smart HTTP).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Objm } from '@nats-io/obj';
import { Agent } from '../../agents/agent.ts';
import { BUCKETS, LOG_HEADERS, OBJECTS, STREAMS, SUBJECTS } from '../../schema/nats.ts';
import { validators } from '../../schema/validate.ts';
import { INLINE_LOG_MAX } from '../../schema/messages.ts';
import { makeJob, publishJob, quietLog, startHarness, streamMessages, takeResults, type Harness } from '../fixtures/agent-jobs.ts';
import { debSource, exampleSource, makeDebRepo } from '../fixtures/deb-source.ts';
import { BUILD_IMAGE, containersWithLabel, docker, dockerUnavailable } from '../helpers/docker.ts';
import { startGitServer } from '../helpers/git-server.ts';
import { commitFiles, git } from '../helpers/git.ts';

const run = promisify(execFile);
const skip = await dockerUnavailable();

async function objectBytes(h: Harness, name: string): Promise<Buffer> {
  const os = await new Objm(h.nc).open(BUCKETS.artifacts);
  const r = await os.get(name);
  assert.ok(r, `object ${name} exists`);
  const chunks: Uint8Array[] = [];
  for await (const c of r.data) chunks.push(c);
  return Buffer.concat(chunks);
}

describe('agent build (real Docker)', { skip }, () => {
  let h: Harness;
  let agent: Agent;

  let leftover: string;

  before(async () => {
    // What a killed earlier run of this agent would leave: a container with its label.
    leftover = (await docker.createContainer({ Image: BUILD_IMAGE, Cmd: ['true'], Labels: { 'kiln.agent': 'build-agent' } })).id;
    h = await startHarness();
    agent = new Agent({ nc: h.nc, pool: 'deb', arch: 'amd64', workDir: h.workDir, log: quietLog, id: 'build-agent', heartbeatMs: 1000 });
    await agent.start();
  });
  after(async () => {
    await agent?.close();
    await h?.close();
    if (leftover) await docker.getContainer(leftover).remove({ force: true }).catch(() => undefined);
  });

  test('agent build - containers left by an earlier run of the same agent are removed at start', async () => {
    const left = await containersWithLabel('kiln.agent', 'build-agent');
    assert.ok(!left.some((c) => c.Id === leftover), 'leftover container removed');
  });

  test('agent build - builds the example package; the .deb lands in the object store, the log in the result (small) or the store', async () => {
    const repo = await makeDebRepo(await exampleSource(), h.workDir);
    const job = makeJob({ url: repo.dir, commit: repo.commit, package: 'hello-kiln' });
    // Live log lines for this build, as `kiln logs -f` would see them.
    const live: string[] = [];
    const sub = h.nc.subscribe(SUBJECTS.log(job.key));
    const ended = (async () => {
      for await (const m of sub) {
        live.push(m.string());
        if (m.headers?.get(LOG_HEADERS.end)) break;
      }
    })();
    await publishJob(h.nc, job);
    const [r] = await takeResults(h.nc, 1);
    await ended;

    assert.ok(validators.buildResult(r), JSON.stringify(validators.buildResult.errors));
    assert.equal(r.key, job.key);
    assert.equal(r.outcome, 'succeeded', r.logTail);
    assert.equal(r.exitCode, 0);
    assert.equal(r.agent, 'build-agent');
    assert.deepEqual(r.inputs, job.inputs);
    const deb = r.artifacts.find((a) => a.name.endsWith('.deb'));
    assert.ok(deb, `a .deb among ${r.artifacts.map((a) => a.name).join(', ')}`);
    assert.match(deb.name, /^hello-kiln_.*_amd64\.deb$/);
    assert.ok(r.artifacts.some((a) => a.name.endsWith('.buildinfo')));
    assert.ok(r.artifacts.some((a) => a.name.endsWith('.changes')));

    const bytes = await objectBytes(h, OBJECTS.artifact(deb.sha256));
    assert.equal(createHash('sha256').update(bytes).digest('hex'), deb.sha256);
    assert.equal(bytes.length, deb.size);
    const file = join(h.workDir, deb.name);
    await writeFile(file, bytes);
    const { stdout } = await run('dpkg-deb', ['-I', file]);
    assert.match(stdout, /Package: hello-kiln/);

    assert.ok(r.log);
    // A log of at most INLINE_LOG_MAX bytes travels whole in the result (no object); a bigger one is stored.
    const inline = r.log.size <= INLINE_LOG_MAX;
    assert.equal(r.log.object, inline ? undefined : OBJECTS.log(job.key, 1));
    const logBytes = inline ? Buffer.from(r.logTail ?? '') : await objectBytes(h, r.log.object!);
    if (inline) assert.equal(await (await new Objm(h.nc).open(BUCKETS.artifacts)).info(OBJECTS.log(job.key, 1)), null, 'no log object was put');
    assert.equal(createHash('sha256').update(logBytes).digest('hex'), r.log.sha256);
    assert.match(logBytes.toString(), /dpkg-buildpackage/);
    assert.doesNotMatch(logBytes.toString(), /installing Build-Depends/, 'the builder image already satisfies debhelper-compat');
    assert.match(live.join(''), /dpkg-deb: building package 'hello-kiln'/);

    assert.equal(await streamMessages(h.nc, STREAMS.builds), 0, 'job stream is empty');
    assert.deepEqual(await containersWithLabel('kiln.key', job.key), [], 'build container removed');
  });

  test('agent build - fetches the source over smart HTTP (git http-backend), from a subdir', async () => {
    // The package lives under pkg/ of a bigger repo, to exercise subdir.
    const files = { README: 'monorepo\n', ...Object.fromEntries(Object.entries(debSource({ name: 'kiln-http' })).map(([k, v]) => [`pkg/${k}`, v])) };
    const mono = await makeDebRepo(files, h.workDir);
    await git(mono.dir, 'config', 'http.receivepack', 'true');
    const server = await startGitServer(join(mono.dir, '..'));
    try {
      const url = `${server.url}/${mono.dir.split('/').pop()}/.git`;
      const job = makeJob({ url, commit: mono.commit, subdir: 'pkg', package: 'kiln-http' });
      await publishJob(h.nc, job);
      const [r] = await takeResults(h.nc, 1);
      assert.equal(r.outcome, 'succeeded', r.logTail);
      assert.ok(r.artifacts.some((a) => /^kiln-http_1\.0_amd64\.deb$/.test(a.name)));
      assert.ok(server.requests.some((q) => q.includes('git-upload-pack')), server.requests.join('\n'));
    } finally {
      await server.close();
    }
  });

  test('agent build - a compile error fails with class build and the error in the log tail', async () => {
    const repo = await makeDebRepo(debSource({ c: 'int main(void) { this is not C; }\n' }), h.workDir);
    const job = makeJob({ url: repo.dir, commit: repo.commit });
    await publishJob(h.nc, job);
    const [r] = await takeResults(h.nc, 1);
    assert.equal(r.outcome, 'failed');
    assert.equal(r.failureClass, 'build');
    assert.notEqual(r.exitCode, 0);
    assert.deepEqual(r.artifacts, []);
    assert.match(r.logTail ?? '', /error: /);
    assert.equal(await streamMessages(h.nc, STREAMS.builds), 0);
  });

  test('agent build - past its memory limit the build is OOM-killed: class limit', async () => {
    const repo = await makeDebRepo(debSource({ buildShell: 'head -c 600M /dev/zero | tail > /dev/null' }), h.workDir);
    const job = makeJob({ url: repo.dir, commit: repo.commit, limits: { memoryMiB: 160 } });
    await publishJob(h.nc, job);
    const [r] = await takeResults(h.nc, 1);
    assert.equal(r.outcome, 'failed', r.logTail);
    assert.equal(r.failureClass, 'limit', r.reason);
    assert.equal(r.oomKilled, true);
  });

  test('agent build - past its time limit the build is killed: class limit, timedOut', async () => {
    const repo = await makeDebRepo(debSource({ buildShell: 'sleep 120' }), h.workDir);
    const job = makeJob({ url: repo.dir, commit: repo.commit, limits: { timeoutSeconds: 4 } });
    const t0 = Date.now();
    await publishJob(h.nc, job);
    const [r] = await takeResults(h.nc, 1);
    assert.equal(r.outcome, 'failed');
    assert.equal(r.failureClass, 'limit');
    assert.equal(r.timedOut, true);
    assert.ok(Date.now() - t0 < 60_000, 'killed well before the sleep ends');
  });

  test('agent build - a debian/control that is a link to /dev/zero is a build failure saying so, read from nowhere', async () => {
    const repo = await makeDebRepo(debSource(), h.workDir);
    await rm(join(repo.dir, 'debian/control'));
    await symlink('/dev/zero', join(repo.dir, 'debian/control'));
    const commit = await commitFiles(repo.dir, {}, 'control is a link');
    const t0 = Date.now();
    await publishJob(h.nc, makeJob({ url: repo.dir, commit }));
    const [r] = await takeResults(h.nc, 1);
    assert.equal(r.outcome, 'failed');
    assert.equal(r.failureClass, 'build', r.reason);
    assert.match(r.reason ?? '', /^debian\/control is a symbolic link/);
    assert.ok(Date.now() - t0 < 30_000);
  });

  test('agent build - a subdir that is a link to a host directory is a build failure, not infra', async () => {
    const repo = await makeDebRepo(debSource(), h.workDir);
    await symlink('/etc', join(repo.dir, 'pkg'));
    const commit = await commitFiles(repo.dir, {}, 'subdir is a link');
    await publishJob(h.nc, makeJob({ url: repo.dir, commit, subdir: 'pkg' }));
    const [r] = await takeResults(h.nc, 1);
    assert.equal(r.outcome, 'failed');
    assert.equal(r.failureClass, 'build', r.reason);
    assert.match(r.reason ?? '', /source subdir 'pkg' at [0-9a-f]{40}: pkg is a symbolic link/);
  });

  test('agent build - a link in the source to a host directory leaves that directory\'s owners alone', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'kiln-host-'));
    try {
      await writeFile(join(outside, 'host-file'), 'the host\'s\n');
      const repo = await makeDebRepo(debSource(), h.workDir);
      await symlink(outside, join(repo.dir, 'hostdir'));
      const commit = await commitFiles(repo.dir, {}, 'a link to a host directory');
      await publishJob(h.nc, makeJob({ url: repo.dir, commit }));
      const [r] = await takeResults(h.nc, 1);
      assert.equal(r.outcome, 'succeeded', r.reason);
      const owner = process.getuid?.() ?? 0;
      assert.equal((await stat(outside)).uid, owner);
      assert.equal((await stat(join(outside, 'host-file'))).uid, owner, 'not handed to the build user');
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
  });

  test('agent build - a pinned commit missing from the repo fails with class infra', async () => {
    const repo = await makeDebRepo(debSource(), h.workDir);
    const job = makeJob({ url: repo.dir, commit: 'f'.repeat(40) });
    await publishJob(h.nc, job);
    const [r] = await takeResults(h.nc, 1);
    assert.equal(r.outcome, 'failed');
    assert.equal(r.failureClass, 'infra');
    assert.match(r.reason ?? '', /commit f{40} not found/);
  });
});

