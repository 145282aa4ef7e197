// `kiln agent` as a real child process: SIGTERM mid-build drains — the build
// finishes, its result is published, the job is acked and the process exits 0.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { Kvm } from '@nats-io/kv';
import type { AgentInfo } from '../../schema/messages.ts';
import { BUCKETS, STREAMS } from '../../schema/nats.ts';
import { makeJob, publishJob, startHarness, streamMessages, takeResults } from '../fixtures/agent-jobs.ts';
import { debSource, makeDebRepo } from '../fixtures/deb-source.ts';
import { dockerUnavailable } from '../helpers/docker.ts';

const KILN = fileURLToPath(new URL('../../bin/kiln.js', import.meta.url));

test('agent sigterm - SIGTERM mid-build finishes the build, publishes the result, exits 0', { skip: await dockerUnavailable() }, async (t) => {
  const h = await startHarness();
  const child = spawn(process.execPath, [KILN, 'agent', '--nats', h.srv.url, '--pool', 'deb', '--arch', 'amd64', '--id', 'sigterm-agent', '--work-dir', h.workDir, '--heartbeat-seconds', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.after(async () => {
    if (child.exitCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    await h.close();
  });

  const repo = await makeDebRepo(debSource({ buildShell: 'sleep 4' }), h.workDir);
  const job = makeJob({ url: repo.dir, commit: repo.commit });
  await publishJob(h.nc, job);

  // Wait until the agent reports the build as running, then ask it to stop.
  const kv = await new Kvm(h.nc).open(BUCKETS.agents);
  let running = false;
  for (let i = 0; i < 300 && !running; i++) {
    await sleep(100);
    running = (await kv.get('sigterm-agent'))?.json<AgentInfo>()?.running.includes(job.key) ?? false;
  }
  assert.ok(running, `agent never reported the build as running:\n${stderr}`);
  child.kill('SIGTERM');

  const code = await exited;
  assert.equal(code, 0, stderr);
  const [r] = await takeResults(h.nc, 1, 10_000);
  assert.equal(r.key, job.key);
  assert.equal(r.outcome, 'succeeded', r.logTail);
  assert.equal(r.agent, 'sigterm-agent');
  assert.equal(await streamMessages(h.nc, STREAMS.builds), 0, 'job acked');
  assert.match(stderr, /draining/);
});
