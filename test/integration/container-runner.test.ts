// The one container runner (containers/run-container.ts) on the real Docker
// Engine: every byte of output arrives before it returns, even from a container
// that prints and exits at once; lock-down and labels are applied; the deadline
// inside the container holds when nobody is left to kill it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { runContainer, type ContainerSpec } from '../../containers/run-container.ts';
import { DEADLINE_LABEL, ROLE_LABEL } from '../../containers/labels.ts';
import { sweepOrphanContainers } from '../../containers/sweep.ts';
import { watchOom } from '../../containers/oom-events.ts';
import { BASE_IMAGE, docker, dockerUnavailable } from '../helpers/docker.ts';

const skip = await dockerUnavailable(BASE_IMAGE);
const log = pino({ level: 'silent' });

async function run(spec: Partial<ContainerSpec> & { cmd: string[] }): Promise<{ output: string; exitCode: number; timedOut: boolean }> {
  let output = '';
  const exit = await runContainer(
    docker,
    { image: BASE_IMAGE, role: 'test', network: 'none', timeoutMs: 60_000, ...spec },
    { onLog: (b) => (output += b.toString('utf8')) },
  );
  return { output, exitCode: exit.exitCode, timedOut: exit.timedOut };
}

test('container runner - the last line of a container that exits at once always arrives', { skip }, async () => {
  // The race this guards against lost apt's final 'E:' line in gates (an attach stream can end early).
  for (let i = 0; i < 15; i++) {
    // Order holds within a stream, not across stdout and stderr (the engine copies them apart).
    const r = await run({ cmd: ['bash', '-c', 'seq 1 2000; echo "the last line"; echo "E: the error line" >&2; exit 7'] });
    assert.equal(r.exitCode, 7);
    // stderr's chunk may land anywhere in stdout, even inside a line: take it out before reading stdout.
    assert.equal(r.output.split('E: the error line\n').length, 2, `run ${i}: the stderr line once`);
    const stdout = r.output.replace('E: the error line\n', '');
    assert.match(stdout, /2000\nthe last line\n$/, `run ${i}: output ends with ${JSON.stringify(r.output.slice(-60))}`);
    assert.equal(stdout.split('\n').filter((l) => /^\d+$/.test(l)).length, 2000, `run ${i}: every numbered line once`);
  }
});

test('container runner - every capability is dropped unless asked for, no new privileges, no network', { skip }, async () => {
  const r = await run({ cmd: ['bash', '-c', 'grep -E "^(CapEff|NoNewPrivs)" /proc/self/status; grep -c : /proc/net/dev'], user: 'root' });
  assert.match(r.output, /CapEff:\s+0000000000000000/);
  assert.match(r.output, /NoNewPrivs:\s+1/);
  assert.match(r.output, /^1$/m, 'only the loopback interface');
  const apt = await run({ cmd: ['bash', '-c', 'grep CapEff /proc/self/status'], user: 'root', capAdd: ['CHOWN'] });
  assert.match(apt.output, /CapEff:\s+0000000000000001/);
});

test('container runner - the engine log is json-file and never rotated, whatever the daemon defaults to', { skip }, async () => {
  let config: unknown;
  await runContainer(docker, { image: BASE_IMAGE, role: 'test', network: 'none', timeoutMs: 60_000, cmd: ['true'] }, {
    onLog: () => undefined,
    afterExit: async (c) => {
      config = (await c.inspect()).HostConfig.LogConfig;
    },
  });
  assert.deepEqual(config, { Type: 'json-file', Config: { 'max-size': '1p', 'max-file': '1', compress: 'false' } });
});

test('container runner - the time limit kills the container and says so', { skip }, async () => {
  const r = await run({ cmd: ['sleep', '60'], timeoutMs: 1500 });
  assert.equal(r.timedOut, true);
});

test('container runner - containers carry role and deadline labels; the sweep removes expired ones of any role', { skip }, async (t) => {
  // A container as a killed runner leaves it: created by the runner's rules but never cleaned up.
  const c = await docker.createContainer({
    Image: BASE_IMAGE,
    Cmd: ['sleep', '300'],
    Labels: { [ROLE_LABEL]: 'gate', [DEADLINE_LABEL]: String(Date.now() - 1000), 'kiln.test': 'sweep' },
    HostConfig: { NetworkMode: 'none' },
  });
  t.after(() => c.remove({ force: true }).catch(() => undefined));
  await c.start();
  const removed = await sweepOrphanContainers(docker, log);
  assert.ok(removed >= 1);
  await assert.rejects(c.inspect(), /no such container/i);
});

test('container runner - the deadline holds inside the container when the runner is gone', { skip }, async () => {
  // deadlineInside wraps the command in `timeout -s KILL`: the container ends on its own.
  const { commandWithDeadline } = await import('../../containers/run-container.ts');
  assert.deepEqual(commandWithDeadline({ cmd: ['make'], timeoutMs: 10_000 }).slice(0, 3), ['timeout', '-s', 'KILL']);
  assert.deepEqual(commandWithDeadline({ cmd: ['make'], timeoutMs: 10_000, deadlineInside: false }), ['make']);
});

test('container runner - output with invalid UTF-8 arrives once (the json-file log stores it longer than it was written)', { skip }, async () => {
  const chunks: Buffer[] = [];
  const script = 'i=0; while [ $i -lt 200 ]; do printf "line $i \\377\\376\\n"; i=$((i+1)); done; echo END';
  const exit = await runContainer(docker, { image: BASE_IMAGE, role: 'test', network: 'none', timeoutMs: 60_000, cmd: ['sh', '-c', script] }, { onLog: (b) => chunks.push(b) });
  assert.equal(exit.exitCode, 0);
  const text = Buffer.concat(chunks).toString('latin1');
  assert.equal(text.match(/END/g)?.length, 1, `END once; output ends ${JSON.stringify(text.slice(-80))}`);
  assert.equal(text.split('\n').filter((l) => l.startsWith('line ')).length, 200, 'every line once');
});

test('container runner - an OOM kill of the command under `timeout` is reported as OOM; a SIGKILL exit without one is not', { skip }, async () => {
  const spec = { image: BASE_IMAGE, role: 'test', network: 'none' as const, timeoutMs: 60_000, memoryBytes: 64 * 2 ** 20 };
  // tail keeps its one (400 MiB) line in memory: the kernel kills it, and `timeout` (PID 1) exits 137.
  const oom = await runContainer(docker, { ...spec, cmd: ['bash', '-c', 'head -c 400m /dev/zero | tail -n 1 >/dev/null'] }, { onLog: () => undefined });
  assert.equal(oom.exitCode, 137);
  assert.equal(oom.oomKilled, true);
  const killed = await runContainer(docker, { ...spec, cmd: ['bash', '-c', 'kill -KILL $$'] }, { onLog: () => undefined });
  assert.equal(killed.exitCode, 137);
  assert.equal(killed.oomKilled, false);
});

test('container runner - the engine\'s "oom" event is seen by a watch set up before the start', { skip }, async (t) => {
  const c = await docker.createContainer({ Image: BASE_IMAGE, Cmd: ['bash', '-c', 'head -c 400m /dev/zero | tail -n 1 >/dev/null'], NetworkDisabled: true, HostConfig: { Memory: 64 * 2 ** 20, MemorySwap: 64 * 2 ** 20, NetworkMode: 'none' } });
  t.after(() => c.remove({ force: true }).catch(() => undefined));
  const watch = await watchOom(docker, c.id);
  try {
    const waited = c.wait({ condition: 'next-exit' });
    await c.start();
    await waited;
    assert.equal(await watch.seen(30_000), true);
  } finally {
    watch.close();
  }
});
