// An agent's own Prometheus endpoint, scraped over HTTP: an in-process agent
// (NoopRunner) whose counters move when the reconciler's job is built, and the
// real `kiln agent --metrics-listen` CLI.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { Agent } from '../../agents/agent.ts';
import { AgentMetrics, serveMetrics } from '../../agents/metrics.ts';
import { parseListen } from '../../agents/metrics-listen.ts';
import { NoopRunner } from '../../agents/noop-runner.ts';
import { freePort } from '../helpers/nats.ts';
import { debSource, quiet, ROOT, startWorld, until, type World } from './reliability-harness.ts';

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format 0.0.4: every sample line; HELP/TYPE comments checked to precede their samples. */
function parseExposition(text: string): Sample[] {
  const typed = new Set<string>();
  const out: Sample[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    const meta = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.*)$/.exec(line);
    if (meta) {
      if (meta[1] === 'TYPE') typed.add(meta[2]);
      continue;
    }
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `not a Prometheus sample line: ${line}`);
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    const family = m[1].replace(/_(bucket|sum|count)$/, '');
    assert.ok(typed.has(m[1]) || typed.has(family), `${m[1]} has no # TYPE line before it`);
    out.push({ name: m[1], labels, value: Number(m[3]) });
  }
  return out;
}

async function scrape(url: string): Promise<Sample[]> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return parseExposition(await res.text());
}

const value = (samples: Sample[], name: string, labels: Record<string, string> = {}) =>
  samples.find((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value;

describe('agent metrics', () => {
  let w: World;
  before(async () => {
    w = await startWorld({ hello: { source: debSource({ name: 'hello' }) } });
  });
  after(() => w?.close());

  test('agent metrics - a scraped agent counts the build it ran, its pulls and running builds', async () => {
    const metrics = new AgentMetrics({ pool: 'deb', arch: 'amd64', agent: 'metrics-agent' });
    const served = await serveMetrics(metrics.registry, { host: '127.0.0.1', port: 0 });
    const agent = new Agent({ nc: w.nc, pool: 'deb', arch: 'amd64', workDir: w.tmp, log: quiet, id: 'metrics-agent', heartbeatMs: 500, runner: new NoopRunner({ delayMs: 300 }), pullExpiresMs: 1000, metrics });
    try {
      const before = await scrape(served.url);
      assert.equal(value(before, 'kiln_agent_builds_total', { outcome: 'succeeded', pool: 'deb', arch: 'amd64', agent: 'metrics-agent' }), 0);
      assert.equal(value(before, 'kiln_agent_running_builds'), 0);
      await agent.start();
      const rec = await w.reconciler();
      assert.equal((await rec.runPass()).dispatched, 1);
      const during = await until(async () => {
        const s = await scrape(served.url);
        return value(s, 'kiln_agent_running_builds') === 1 ? s : undefined;
      }, 10_000, 'the build to be running');
      assert.equal(value(during, 'kiln_agent_jobs_received_total'), 1);
      const done = await until(async () => {
        const s = await scrape(served.url);
        return value(s, 'kiln_agent_builds_total', { outcome: 'succeeded' }) === 1 ? s : undefined;
      }, 10_000, 'the build to finish');
      assert.equal(value(done, 'kiln_agent_running_builds'), 0);
      assert.equal(value(done, 'kiln_agent_builds_total', { outcome: 'failed' }), 0);
      assert.equal(value(done, 'kiln_agent_build_duration_seconds_count', { outcome: 'succeeded' }), 1);
      const seconds = value(done, 'kiln_agent_build_duration_seconds_sum', { outcome: 'succeeded' })!;
      assert.ok(seconds >= 0.3 && seconds < 10, `duration ${seconds} s covers the 300 ms build`);
      assert.ok(value(done, 'kiln_agent_pulls_total', { result: 'jobs' })! >= 1);
      assert.ok(value(done, 'kiln_process_resident_memory_bytes')! > 0, 'process metrics too');
      const missing = await fetch(served.url.replace('/metrics', '/nope'));
      assert.equal(missing.status, 404);
      await missing.arrayBuffer();
    } finally {
      await agent.close({ hard: true });
      await served.close();
    }
  });

  test('agent metrics - kiln agent --metrics-listen serves /metrics; a bad address is refused', async () => {
    const port = await freePort();
    const child = spawn(process.execPath, [join(ROOT, 'bin/kiln.js'), 'agent', '--nats', w.nats.url, '--pool', 'deb', '--arch', 'amd64', '--id', 'cli-metrics', '--work-dir', w.tmp, '--metrics-listen', `127.0.0.1:${port}`], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const samples = await until(async () => {
        const s = await scrape(`http://127.0.0.1:${port}/metrics`).catch(() => undefined);
        return s && value(s, 'kiln_agent_pulls_total', { result: 'empty' })! >= 1 ? s : undefined;
      }, 20_000, `the CLI agent's metrics after a pull (stderr: ${err})`);
      assert.equal(value(samples, 'kiln_agent_running_builds', { agent: 'cli-metrics', pool: 'deb', arch: 'amd64' }), 0);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, err);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
    const bad = spawn(process.execPath, [join(ROOT, 'bin/kiln.js'), 'agent', '--nats', w.nats.url, '--metrics-listen', 'localhost'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    let badErr = '';
    bad.stderr.on('data', (d) => (badErr += d));
    assert.equal(await new Promise((r) => bad.on('exit', r)), 2);
    assert.match(badErr, /--metrics-listen 'localhost': expected HOST:PORT or :PORT/);
    assert.deepEqual(parseListen(':9464'), { port: 9464 });
    assert.deepEqual(parseListen('[::1]:9464'), { host: '::1', port: 9464 });
  });
});
