// kiln-test: long (scripts/test starts it first, so the run does not end waiting on it)
// The agent container image (agents/Dockerfile, built by scripts/build-agent-image):
// Debian's Node runs Kiln, and the containerised agent, as a non-root user
// talking to the host's Docker socket, builds a real package dispatched by a
// real reconciler over a real nats-server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { debSource, ROOT, startWorld, until, type World } from './reliability-harness.ts';

const exec = promisify(execFile);
const TAG = 'kiln-test/agent';

async function docker(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return exec('docker', args, { maxBuffer: 16 << 20 }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => e,
  );
}

describe('agent image', () => {
  before(async () => {
    const t0 = Date.now();
    await exec(join(ROOT, 'scripts/build-agent-image'), [TAG], { cwd: ROOT, timeout: 600_000 });
    process.stderr.write(`# agent image built in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  });

  test('agent image - Debian bookworm node runs kiln agent --help', async () => {
    const help = await docker('run', '--rm', TAG, '--help');
    assert.equal(help.code, 0, help.stderr);
    assert.match(help.stdout, /^Usage: kiln agent \[options\]/);
    assert.match(help.stdout, /--nats-credentials FILE/);
    const node = await docker('run', '--rm', '--entrypoint', 'node', TAG, '--version');
    assert.match(node.stdout, /^v18\./, 'Node from Debian bookworm, not the host');
    const who = await docker('run', '--rm', '--entrypoint', 'id', TAG, '-u');
    assert.equal(who.stdout.trim(), '990', 'runs as the kiln user, not root');
  });

  describe('agent image - with a reconciler', () => {
    let w: World;
    let work: string;
    const name = `kiln-test-agent-${process.pid}`;
    before(async () => {
      w = await startWorld({ hello: { source: debSource({ name: 'hello' }) } });
      work = await mkdtemp(join(tmpdir(), 'kiln-image-work-'));
      await chmod(work, 0o777);
    });
    after(async () => {
      await docker('rm', '-f', name);
      await w?.close();
      await rm(work, { recursive: true, force: true });
    });

    test('agent image - the containerised agent builds a dispatched package through the host Docker socket; docker stop drains', async () => {
      const src = /git: (.*)/.exec(await readFile(join(w.repoDir, 'packages/hello.yaml'), 'utf8'))![1];
      // The agent runs as uid 990: the source repo (a mkdtemp dir, 0700) must be readable to it.
      await exec('chmod', ['-R', 'a+rX', src]);
      const dockerGid = (await exec('stat', ['-c', '%g', '/run/docker.sock'])).stdout.trim();
      const run = await docker(
        'run', '-d', '--name', name, '--network', 'host', '--group-add', dockerGid,
        '-v', '/run/docker.sock:/run/docker.sock', '-v', `${work}:${work}`, '-v', `${src}:${src}:ro`,
        '-e', `KILN_NATS_URL=${w.nats.url}`, '--stop-timeout', '120',
        TAG, '--pool', 'deb', '--arch', 'amd64', '--id', 'image-agent', '--work-dir', work,
      );
      assert.equal(run.code, 0, run.stderr);
      const rec = await w.reconciler();
      const records = await w.converge(rec, (r) => [...r.values()].some((b) => b.state === 'succeeded' || b.state === 'failed'), 180_000);
      const hello = [...records.values()][0];
      const logs = await docker('logs', name);
      assert.equal(hello.state, 'succeeded', `${hello.failure?.reason}\n${logs.stderr.slice(-4000)}`);
      assert.equal(hello.attempts.at(-1)?.agent, 'image-agent');
      assert.ok(hello.artifacts?.some((a) => a.name.endsWith('.deb')), 'a real .deb came back');
      const stop = await docker('stop', name);
      assert.equal(stop.code, 0, stop.stderr);
      const state = await until(async () => {
        const s = await docker('inspect', '-f', '{{.State.Status}} {{.State.ExitCode}}', name);
        return s.stdout.startsWith('exited') ? s.stdout.trim() : undefined;
      }, 30_000, 'the container to exit');
      assert.equal(state, 'exited 0', 'SIGTERM drains and exits 0');
    });
  });
});
