// Benchmark of the HTTP service (figures in the README):
//   1. GET /api/v1/builds?limit=100 with 10,000 build records on kiln/status:
//      p50/p99 over 2,000 requests (autocannon, loopback), 1 and 10 connections.
//      Baseline: a bare node:http server answering the same bytes (ratio of p50).
//   2. 100 concurrent SSE followers of one live build: every follower gets every
//      line; the server's RSS growth (its own /metrics) while they follow.
// Run: scripts/bench-api   (KILN_PROF=DIR also writes the server's CPU profile to DIR)
import { spawn } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { BuildLog } from '../agents/log-stream.ts';
import { ensureTopology } from '../reconciler/nats/topology.ts';
import { generateKey, loadSigner } from '../reconciler/signing/signer.ts';
import { buildRecordFile } from '../reconciler/status/records.ts';
import { recordPass } from '../reconciler/status/writer.ts';
import type { BuildRecord } from '../schema/status.ts';
import { makeRepo } from '../test/helpers/git.ts';
import { startNats } from '../test/helpers/nats.ts';
import { openSse } from '../test/helpers/sse-client.ts';

const RECORDS = 10_000;
const REQUESTS = 2_000;
const FOLLOWERS = 100;
const LINES = 2_000;

function record(i: number, desired: string): BuildRecord {
  const at = new Date(Date.UTC(2026, 0, 1) + i * 1000).toISOString();
  return {
    key: i.toString(16).padStart(64, '0'),
    inputs: { package: `pkg-${i % 500}`, version: `1.${i}`, source: { url: `https://git.example/pkg-${i % 500}.git`, commit: i.toString(16).padStart(40, 'a') }, recipe: { format: 'deb', rebuild: 0 }, image: 'kiln/bookworm-debhelper', arch: i % 2 ? 'amd64' : 'arm64', target: 'stable' },
    pool: 'deb',
    state: i === 0 ? 'queued' : 'succeeded',
    desiredCommit: desired,
    attempts: [{ n: 1, dispatchedAt: at, agent: 'agent-1', ...(i === 0 ? {} : { startedAt: at, finishedAt: at, outcome: 'succeeded' as const, exitCode: 0 }) }],
    artifacts: i === 0 ? [] : [{ name: `pkg_1.${i}_amd64.deb`, sha256: i.toString(16).padStart(64, 'b'), size: 1234 }],
  };
}

const ms = (x: number) => `${x.toFixed(2)} ms`;
const rssOf = async (url: string) => Number(/^kiln_process_resident_memory_bytes (\S+)$/m.exec(await (await fetch(`${url}/metrics`)).text())?.[1] ?? NaN);

const tmp = await mkdtemp(join(tmpdir(), 'kiln-bench-api-'));
const nats = await startNats();
const nc = await connect({ servers: nats.url, name: 'bench' });
let server: ReturnType<typeof spawn> | undefined;
try {
  await ensureTopology(nc, { pools: { deb: { architectures: ['amd64', 'arm64'] } } });
  const signer = await loadSigner((await generateKey({ name: 'Kiln Bench', email: 'bench@kiln.invalid' })).privateKeyArmored);
  const { dir, commit: desired } = await makeRepo({ 'kiln.yaml': 'bench: true\n' }, { dir: await mkdtemp(join(tmp, 'repo-')) });
  const files = new Map<string, string | null>();
  for (let i = 0; i < RECORDS; i++) files.set(...buildRecordFile(record(i, desired)));
  await recordPass({ dir, cache: {}, signer, build: () => ({ files, summary: `seed ${RECORDS} builds`, trailers: { 'Kiln-Desired': desired } }) });
  console.log(`seeded ${RECORDS} build records on kiln/status`);

  server = spawn(process.execPath, [...(process.env.KILN_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.KILN_PROF] : []), '--import', 'tsx', 'scripts/bench-api-server.ts', dir, nats.url], { stdio: ['ignore', 'pipe', 'inherit'] });
  const { url } = JSON.parse(await new Promise<string>((r) => createInterface({ input: server!.stdout! }).once('line', r))) as { url: string };
  const path = '/api/v1/builds?limit=100';
  const first = await fetch(url + path);
  const body = await first.text();
  console.log(`first request (reads the 10,000 records): ${first.status}, ${body.length} bytes`);

  const baseline = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(body));
  await new Promise<void>((r) => baseline.listen(0, '127.0.0.1', r));
  const baseUrl = `http://127.0.0.1:${(baseline.address() as { port: number }).port}`;

  // autocannon's histogram has 1 ms steps: the ratio uses its mean; precise percentiles come from timing each request of one client.
  for (const connections of [1, 10]) {
    const kiln = await autocannon({ url: url + path, connections, amount: REQUESTS });
    const bare = await autocannon({ url: baseUrl + path, connections, amount: REQUESTS });
    if (kiln.errors || kiln.non2xx) throw new Error(`errors: ${kiln.errors}, non-2xx: ${kiln.non2xx}`);
    console.log(
      `autocannon, ${REQUESTS} requests, ${connections} connection(s): p50 ${ms(kiln.latency.p50)}, p99 ${ms(kiln.latency.p99)}, mean ${ms(kiln.latency.mean)}, ${kiln.requests.average.toFixed(0)} req/s` +
        ` | bare node:http, same bytes: p50 ${ms(bare.latency.p50)}, p99 ${ms(bare.latency.p99)}, mean ${ms(bare.latency.mean)} | ratio (mean) ${(kiln.latency.mean / Math.max(bare.latency.mean, 0.001)).toFixed(1)}x` +
        ` | target p99 <= 20 ms: ${kiln.latency.p99 <= 20 ? 'met' : 'MISSED'}`,
    );
  }
  const timed = async (u: string) => {
    const xs: number[] = [];
    for (let i = 0; i < REQUESTS; i++) {
      const t = performance.now();
      await (await fetch(u)).arrayBuffer();
      xs.push(performance.now() - t);
    }
    xs.sort((a, b) => a - b);
    return { p50: xs[Math.floor(xs.length * 0.5)], p99: xs[Math.floor(xs.length * 0.99)] };
  };
  const [k, b] = [await timed(url + path), await timed(baseUrl + path)];
  console.log(`timed one by one, ${REQUESTS} requests: p50 ${ms(k.p50)}, p99 ${ms(k.p99)} | bare: p50 ${ms(b.p50)}, p99 ${ms(b.p99)} | ratio p50 ${(k.p50 / b.p50).toFixed(1)}x | target p99 <= 20 ms: ${k.p99 <= 20 ? 'met' : 'MISSED'}`);
  baseline.close();

  // 2. SSE: 100 followers of one live build, lines emitted by the agent's own log writer.
  const key = record(0, desired).key;
  const rss0 = await rssOf(url);
  const followers = Array.from({ length: FOLLOWERS }, () => openSse(`${url}/api/v1/builds/${key}/log/stream`));
  await Promise.all(followers.map((f) => f.status));
  await new Promise((r) => setTimeout(r, 500)); // every follower subscribed
  const log = new BuildLog(nc, key, 1, join(tmp, 'build.log'), pino({ level: 'silent' }));
  let peak = rss0;
  const t0 = performance.now();
  for (let i = 1; i <= LINES; i++) {
    log.write(`line ${i} ${'x'.repeat(60)}\n`);
    if (i % 200 === 0) {
      await new Promise((r) => setTimeout(r, 50));
      peak = Math.max(peak, await rssOf(url));
    }
  }
  await log.finish('succeeded');
  await Promise.race([Promise.all(followers.map((f) => f.ended)), new Promise((r) => setTimeout(r, 60_000))]);
  const secs = (performance.now() - t0) / 1000;
  peak = Math.max(peak, await rssOf(url));
  const complete = followers.filter((f) => f.events.filter((e) => e.event === 'message').length === LINES && f.events.some((e) => e.event === 'end')).length;
  const growth = (peak - rss0) / 2 ** 20;
  console.log(
    `SSE: ${FOLLOWERS} followers x ${LINES} lines in ${secs.toFixed(1)} s: ${complete}/${FOLLOWERS} got every line and the end;` +
      ` server RSS ${(rss0 / 2 ** 20).toFixed(0)} MB -> peak ${(peak / 2 ** 20).toFixed(0)} MB (growth ${growth.toFixed(1)} MB, target <= 50 MB: ${growth <= 50 ? 'met' : 'MISSED'})`,
  );
  for (const f of followers) f.close();
} finally {
  server?.kill('SIGTERM');
  await nc.close();
  await nats.dispose();
  await rm(tmp, { recursive: true, force: true });
}
