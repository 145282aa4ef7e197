// kiln-test: long (scripts/test starts it first, so the run does not end waiting on it)
// The pipeline's CLI commands as a user runs them (bin/kiln.js child processes),
// against a real nats-server, a real agent (NoopRunner-based, in the test
// process: these tests are about the commands, not about building) and real git.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import type { Agent } from '../../agents/agent.ts';
import { NoopRunner } from '../../agents/noop-runner.ts';
import type { BuildRunner, RunOptions, RunOutcome, WorkDir } from '../../agents/runner.ts';
import { loadSigner } from '../../reconciler/signing/signer.ts';
import type { BuildJob } from '../../schema/messages.ts';
import { STATUS_BRANCH } from '../../schema/status.ts';
import { makeGpgHome } from '../helpers/gpg.ts';
import { commitFiles } from '../helpers/git.ts';
import { makeDebRepo } from '../fixtures/deb-source.ts';
import { debSource, ROOT, startWorld, until, type World } from './reliability-harness.ts';

const run = promisify(execFile);

/** Builds everything but the package named 'bad', whose "compiler" fails. */
class PickyRunner implements BuildRunner {
  readonly name = 'picky-noop';
  readonly needsSource = false;
  private readonly ok = new NoopRunner();
  async run(job: BuildJob, work: WorkDir, opts: RunOptions): Promise<RunOutcome> {
    if (job.inputs.package !== 'bad') return this.ok.run(job, work, opts);
    opts.onLog(Buffer.from('gcc -c main.c\nmain.c:1:1: error: bad recipe\n'));
    return { exitCode: 2, oomKilled: false, timedOut: false, artifacts: [] };
  }
}

async function kiln(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(ROOT, 'bin/kiln.js'), ...args], { cwd: ROOT, maxBuffer: 16 << 20 });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
const json = async (...args: string[]) => {
  const r = await kiln(...args, '--json');
  assert.equal(r.code, 0, `kiln ${args.join(' ')} failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
};

describe('pipeline CLI', () => {
  let w: World;
  let agent: Agent;
  let nats: string[];
  let repo: string[];
  let key: string[];
  before(async () => {
    w = await startWorld({ good: { source: debSource({ name: 'good' }) }, bad: { source: debSource({ name: 'bad' }) } });
    agent = await w.agent('cli-agent', new PickyRunner());
    nats = ['--nats', w.nats.url];
    repo = ['--repo', w.repoDir];
    key = ['--signing-key', w.keyFile];
  });
  after(() => w?.close());

  test('pipeline cli - reconcile --once dispatches, then records results; builds lists them; logs prints a finished log', async () => {
    const first = await json('reconcile', '--once', ...repo, ...nats, ...key, '-q');
    assert.equal(first.dispatched, 2);
    assert.deepEqual(first.actions.map((a: { kind: string; reason: string }) => `${a.kind}:${a.reason}`).sort(), ['build:NeverBuilt', 'build:NeverBuilt']);
    await until(async () => (await w.js.jetstreamManager()).consumers.info('KILN_RESULTS', 'kiln-reconciler-results').then((i) => i.num_pending === 2), 20_000, 'two results');
    const second = await json('reconcile', '--once', ...repo, ...nats, ...key, '-q');
    assert.equal(second.results, 2);
    assert.match(second.statusCommit, /^[0-9a-f]{40}$/);

    const { builds } = await json('builds', ...repo);
    const byName = Object.fromEntries(builds.map((b: { package: string }) => [b.package, b]));
    assert.equal(byName.good.state, 'succeeded');
    assert.equal(byName.good.agent, 'cli-agent');
    assert.equal(byName.bad.state, 'failed');
    assert.equal(byName.bad.failure.class, 'build');
    assert.equal(byName.bad.failure.retryable, false);
    const human = await kiln('builds', ...repo, '--state', 'failed');
    assert.match(human.stdout, /bad 1\.0 amd64 {2}failed \(attempt 1 on cli-agent\)/);
    assert.doesNotMatch(human.stdout, /good/);

    const log = await kiln('logs', byName.bad.key.slice(0, 8), ...repo, ...nats);
    assert.equal(log.code, 0, log.stderr);
    assert.match(log.stdout, /main\.c:1:1: error: bad recipe/);
    const logJson = await json('logs', byName.bad.key.slice(0, 8), ...repo, ...nats);
    assert.equal(logJson.object, null, 'a small log came in its result and is read from its status record');
    assert.match(logJson.log, /^kiln: build [0-9a-f]{64} attempt 1[^]*main\.c:1:1: error: bad recipe\n[^]*kiln: failed/);
    const followed = await kiln('logs', '-f', byName.good.key.slice(0, 10), ...nats);
    assert.equal(followed.code, 0, followed.stderr);
    assert.match(followed.stdout, /noop build of good 1\.0/, 'a finished build is followed to its end marker');
    const nope = await kiln('logs', 'ffff', ...repo, ...nats);
    assert.equal(nope.code, 2);
    assert.match(nope.stderr, /no build whose key starts with ffff/);
  });

  test('pipeline cli - retry writes one signed status commit; the next pass dispatches attempt 2', async () => {
    const { builds } = await json('builds', ...repo);
    const bad = builds.find((b: { package: string }) => b.package === 'bad');
    const r = await json('retry', bad.key.slice(0, 6), ...repo, ...key);
    assert.equal(r.retried, true);
    const gpg = await makeGpgHome((await loadSigner(await readFile(w.keyFile, 'utf8'))).publicKeyArmored);
    try {
      const v = await gpg.verifyCommit(w.repoDir, STATUS_BRANCH);
      assert.ok(v.ok, `git verify-commit: ${v.stderr}`);
    } finally {
      await gpg.dispose();
    }
    const after = (await json('builds', ...repo)).builds.find((b: { package: string }) => b.package === 'bad');
    assert.equal(after.failure.retryable, true);
    assert.ok(Date.parse(after.retryAt) <= Date.now());
    const again = await kiln('retry', bad.key.slice(0, 6), ...repo, ...key);
    assert.equal(again.code, 1, 'already retryable: nothing to do');

    const pass = await json('reconcile', '--once', ...repo, ...nats, ...key, '-q');
    assert.equal(pass.dispatched, 1);
    assert.deepEqual(pass.actions.map((a: { reason: string }) => a.reason), ['RetryAfterInfraFailure']);
  });

  test('pipeline cli - agents lists the live agent; agents drain stops it; an unknown id is refused', async () => {
    const { agents } = await json('agents', ...nats);
    assert.equal(agents.length, 1);
    assert.equal(agents[0].id, 'cli-agent');
    assert.equal(agents[0].pool, 'deb');
    assert.equal(agents[0].draining, false);
    const unknown = await kiln('agents', 'drain', 'nobody', ...nats);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /no live agent 'nobody'/);
    const d = await json('agents', 'drain', 'cli-agent', ...nats);
    assert.equal(d.drainRequested, true);
    await agent.done();
    const [drained] = (await json('agents', ...nats)).agents;
    assert.equal(drained.draining, true, 'shown as draining');
    assert.equal(drained.drainRequested, true);
    assert.match((await kiln('agents', ...nats)).stdout, /cli-agent {2}pool deb\/amd64 {2}draining {2}idle/);
    await agent.close();
    assert.deepEqual((await json('agents', ...nats)).agents, [], 'gone once it exits');
  });

  test('pipeline cli - reconcile --watch picks up a new commit within seconds and stops cleanly on SIGTERM', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/kiln.js'), 'reconcile', '--watch', '--interval', '600', ...repo, ...nats, ...key, '-q'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      await until(async () => /pass 1 \(start\)/.test(out), 20_000, `the first pass line (stderr: ${err})`);
      // Its own source: two packages built from one source would produce the same binaries (refused as duplicates).
      const src = await makeDebRepo(debSource({ name: 'newcomer' }));
      const pkg = `name: newcomer\nversion: '1.0'\nsource:\n  git: ${src.dir}\n  ref: main\nformat: deb\narchitectures: [amd64]\n`;
      const t0 = Date.now();
      await commitFiles(w.repoDir, { 'packages/newcomer.yaml': pkg }, 'add newcomer');
      await until(async () => /\(new commit\).*dispatched 1/.test(out), 10_000, `a pass on the new commit (stdout: ${out}; stderr: ${err})`);
      assert.ok(Date.now() - t0 < 5000, 'seen within seconds');
      child.kill('SIGTERM');
      assert.equal(await exited, 0, err);
      assert.match(out, /stopped after \d+ pass\(es\), 0 failed/);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
