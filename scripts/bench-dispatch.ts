// Benchmark of the build pipeline end to end, on a real nats-server:
//   2,000 jobs: reconcile pass dispatches → agents (NoopRunner: no Docker) build,
//   upload, publish results → the watch loop's passes collect, verify, sign and
//   record them on kiln/status.
// Baseline, same run, same server: a raw JetStream loop of the same count
//   (publish jobs → pull + publish a result + ack → pull results + ack).
// Also timed: the agents alone (same jobs, no reconciler), to show which side limits.
// Prints jobs/s, the ratio, how many status commits recorded the results, the CPU
// time per job of each process (less sensitive to a busy machine than the rates) and
// the load average. `--profile DIR` (or KILN_BENCH_PROFILE=DIR) writes CPU profiles of the
// end-to-end section: the reconciler's as DIR/reconciler.cpuprofile, the agents' process under
// DIR/agents (written when it exits, so it also covers the "agents alone" run).
// Run: scripts/bench-dispatch [JOBS] [--profile DIR]
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { AckPolicy, jetstream, jetstreamManager, RetentionPolicy } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { pino } from 'pino';
import { openReconciler } from '../reconciler/reconciler-setup.ts';
import { generateKey, loadSigner } from '../reconciler/signing/signer.ts';
import { noopDeb } from '../agents/noop-deb.ts';
import pMap from 'p-map';
import { watch } from '../reconciler/watch.ts';
import type { BuildAction } from '../reconciler/model.ts';
import { dispatchBuilds } from '../reconciler/pipeline/dispatch.ts';
import { RESULTS_CONSUMER, STREAMS } from '../schema/nats.ts';
import { STATUS_BRANCH, type BuildRecord } from '../schema/status.ts';
import { git, makeRepo } from '../test/helpers/git.ts';
import { makeDebRepo, debSource } from '../test/fixtures/deb-source.ts';
import { startNats } from '../test/helpers/nats.ts';
import { sectionProfiler } from './bench-profile.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const { values: flags, positionals } = parseArgs({ allowPositionals: true, options: { profile: { type: 'string' } } });
const JOBS = Number(positionals[0] ?? 2000);
const PROFILE_DIR = flags.profile ?? process.env.KILN_BENCH_PROFILE;
const ARCHES = ['amd64', 'arm64', 'armhf', 'i386'];
const PACKAGES = Math.ceil(JOBS / ARCHES.length);
const AGENT_CONCURRENCY = 32;
const log = pino({ level: process.env.KILN_LOG_LEVEL ?? 'warn' }, pino.destination(2));

async function rawLoop(nc: NatsConnection, n: number): Promise<number> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.add({ name: 'RAW_JOBS', subjects: ['raw.job.>'], retention: RetentionPolicy.Workqueue });
  await jsm.streams.add({ name: 'RAW_RESULTS', subjects: ['raw.result.>'], retention: RetentionPolicy.Workqueue });
  await jsm.consumers.add('RAW_JOBS', { durable_name: 'w', ack_policy: AckPolicy.Explicit });
  await jsm.consumers.add('RAW_RESULTS', { durable_name: 'r', ack_policy: AckPolicy.Explicit });
  const js = jetstream(nc);
  const payload = JSON.stringify({ v: 1, key: 'x'.repeat(64), inputs: { package: 'p', version: '1' }, pad: 'y'.repeat(400) });
  const t0 = performance.now();
  const pubs: Promise<unknown>[] = [];
  for (let i = 0; i < n; i++) {
    pubs.push(js.publish(`raw.job.${i % 4}`, payload, { msgID: `job-${i}` }));
    if (pubs.length >= 256) await Promise.all(pubs.splice(0));
  }
  await Promise.all(pubs);
  const worker = (async () => {
    const c = await js.consumers.get('RAW_JOBS', 'w');
    let done = 0;
    while (done < n) {
      const batch = await c.fetch({ max_messages: 256, expires: 1000 });
      for await (const m of batch) {
        await js.publish(`raw.result.${m.seq}`, payload, { msgID: `res-${m.seq}` });
        m.ack();
        done++;
      }
    }
  })();
  const collector = (async () => {
    const c = await js.consumers.get('RAW_RESULTS', 'r');
    let done = 0;
    while (done < n) {
      const batch = await c.fetch({ max_messages: 1000, expires: 1000 });
      for await (const m of batch) {
        m.ack();
        done++;
      }
    }
  })();
  await Promise.all([worker, collector]);
  return performance.now() - t0;
}

/** The agents' share: the same jobs again (as attempt 2), timed until every result is waiting. */
async function agentsAlone(nc: NatsConnection, records: BuildRecord[]): Promise<number> {
  const jsm = await jetstreamManager(nc);
  const actions: BuildAction[] = records.map((r) => ({
    kind: 'build', reason: 'RetryAfterInfraFailure', message: 'bench', key: r.key, package: r.inputs.package, version: r.inputs.version,
    arch: r.inputs.arch as BuildAction['arch'], pool: r.pool, attempt: 2, inputs: r.inputs, limits: { memoryMiB: 512, cpus: 1, pids: 256, timeoutSeconds: 600 },
  }));
  const t0 = performance.now();
  await dispatchBuilds(jetstream(nc), actions, { desiredCommit: 'bench', now: new Date(), log });
  while ((await jsm.consumers.info(STREAMS.results, RESULTS_CONSUMER)).num_pending < actions.length) await new Promise((r) => setTimeout(r, 20));
  const ms = performance.now() - t0;
  await jsm.streams.purge(STREAMS.results);
  return ms;
}

/**
 * What the artifact signatures cost on their own: `n` no-op .debs signed through the reconciler's
 * Signer (its worker thread), 64 at a time as the collect step asks. CPU of the whole process
 * (all threads) per signature, and the wall time.
 */
async function signingAlone(privateKeyArmored: string, n: number): Promise<{ cpuMs: number; ms: number }> {
  const signer = await loadSigner(privateKeyArmored);
  const debs = await Promise.all(Array.from({ length: n }, (_, i) => noopDeb({ package: `p${i}`, version: '1.0', arch: 'amd64' }, `k${i}`)));
  await signer.signDetached(debs[0].bytes); // the worker started
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await pMap(debs, (d) => signer.signDetached(d.bytes), { concurrency: 64 });
  const ms = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  return { cpuMs: (cpu.user + cpu.system) / 1000 / n, ms };
}

/** Messages (publishes, requests, acks) each named client connection has sent and received so far (nats-server's /connz). */
async function messagesByClient(server: { monitorUrl?: string }): Promise<Map<string, { sent: number; received: number }>> {
  const res = await fetch(`${server.monitorUrl}/connz?limit=1024`);
  const { connections } = (await res.json()) as { connections: Array<{ name?: string; in_msgs: number; out_msgs: number }> };
  const out = new Map<string, { sent: number; received: number }>();
  for (const c of connections) {
    const name = (c.name ?? '').replace(/^kiln-reconciler .*/, 'reconciler').replace(/^bench agents$/, 'agents');
    const prev = out.get(name) ?? { sent: 0, received: 0 };
    // in_msgs: what the server took in from the client.
    out.set(name, { sent: prev.sent + c.in_msgs, received: prev.received + c.out_msgs });
  }
  return out;
}

/** Messages each stream has taken so far (its last sequence: counts those already acked off a work queue). */
async function messagesPerStream(nc: NatsConnection): Promise<Record<string, number>> {
  const jsm = await jetstreamManager(nc);
  const out: Record<string, number> = {};
  for await (const si of jsm.streams.list()) if (si.state.last_seq > 0) out[si.config.name] = si.state.last_seq;
  return out;
}

/** CPU seconds (user + system) a process has used so far, from /proc (clock ticks of 10 ms). */
async function cpuSeconds(pids: Array<number | undefined>): Promise<number> {
  let sum = 0;
  for (const pid of pids) {
    if (pid === undefined) continue;
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    sum += (Number(fields[11]) + Number(fields[12])) / 100;
  }
  return sum;
}

/** CPU seconds used by each of the named processes between two calls. */
async function cpuMeter(pids: Record<string, Array<number | undefined>>): Promise<() => Promise<Record<string, number>>> {
  const start = Object.fromEntries(await Promise.all(Object.entries(pids).map(async ([k, p]) => [k, await cpuSeconds(p)] as const)));
  return async () => Object.fromEntries(await Promise.all(Object.entries(pids).map(async ([k, p]) => [k, (await cpuSeconds(p)) - start[k]] as const)));
}

const perJob = (cpu: Record<string, number>, jobs: number) =>
  Object.entries(cpu).map(([k, s]) => `${k} ${((s * 1000) / jobs).toFixed(2)}`).join(', ');

/** --profile DIR: CPU profiles of the agents' process too. */
function agentProfileFlags(): string[] {
  return PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', join(PROFILE_DIR, 'agents')] : [];
}

// Agents run on other hosts in production: here, all four in one child process (four
// processes cost more CPU per job on this shared machine: measured 3.1 vs 2.2 ms).
const AGENT_CODE = `
  import { pino } from 'pino';
  import { connectNats } from './reconciler/nats/connect.ts';
  import { Agent } from './agents/agent.ts';
  import { NoopRunner } from './agents/noop-runner.ts';
  const [url, arches, concurrency, workDir] = JSON.parse(process.argv[1]);
  // Connected the way the kiln agent command connects.
  const nc = await connectNats(url, { name: 'bench agents', log: pino({ level: 'warn' }) });
  const agents = [];
  for (const arch of arches) {
    const a = new Agent({ nc, pool: 'deb', arch, workDir, log: pino({ level: 'warn' }), id: 'bench-' + arch, concurrency, runner: new NoopRunner(), pullExpiresMs: 1000 });
    await a.start();
    agents.push(a);
  }
  process.stdout.write('READY\\n');
  process.on('SIGTERM', async () => { for (const a of agents) await a.close(); await nc.close(); process.exit(0); });
`;

/** The NoopRunner agents of `arches` in a child process; resolves once they pull. */
async function startAgents(url: string, arches: string[], workDir: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [...agentProfileFlags(), '--import', 'tsx', '--input-type=module', '-e', AGENT_CODE, JSON.stringify([url, arches, AGENT_CONCURRENCY, workDir])], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  await new Promise<void>((ready, fail) => {
    child.stdout!.on('data', (d) => String(d).includes('READY') && ready());
    child.once('exit', (code) => fail(new Error(`agents exited with ${code}`)));
  });
  return child;
}

async function main() {
  const tmp = await mkdtemp(join(tmpdir(), 'kiln-bench-dispatch-'));
  const server = await startNats({ monitor: true });
  const nc = await connect({ servers: server.url });
  let agentsChildren: ChildProcess[] = [];
  try {
    // The metadata repo: PACKAGES packages × 4 architectures; each package is its own source
    // (a binary belongs to one package), one directory per package in one real repo.
    const sources: Record<string, string | Buffer> = {};
    for (let i = 0; i < PACKAGES; i++) for (const [path, content] of Object.entries(debSource({ name: `p${i}` }))) sources[`p${i}/${path}`] = content;
    const src = await makeDebRepo(sources);
    const files: Record<string, string> = {
      'kiln.yaml': `trust:\n  keys: []\n  requireSignedCommits: false\npools:\n  deb:\n    architectures: [${ARCHES.join(', ')}]\ndefaults:\n  pool: deb\n  image: kiln/bookworm-debhelper\n  limits: { memoryMiB: 512, cpus: 1, pids: 256, timeoutSeconds: 600 }\n  maxAttempts: 3\n  keep: 3\n`,
    };
    for (let i = 0; i < PACKAGES; i++) {
      files[`packages/p${i}.yaml`] = `name: p${i}\nversion: '1.0'\nsource:\n  git: ${src.dir}\n  ref: main\n  subdir: p${i}\nformat: deb\narchitectures: [${ARCHES.join(', ')}]\n`;
    }
    const repo = await makeRepo(files);
    const steps: string[] = [];
    let lastStep = performance.now();
    const key = await generateKey({ name: 'Kiln Bench', email: 'bench@kiln.invalid' });
    const keyFile = join(tmp, 'key.asc');
    await writeFile(keyFile, key.privateKeyArmored);
    const rec = await openReconciler({
      repoDir: repo.dir, natsUrl: server.url, signingKey: { keyFile }, artifactsDir: join(tmp, 'artifacts'), log,
      policy: { maxResults: JOBS, quietMaxMs: 0 },
      onStep: (step) => {
        const now = performance.now();
        steps.push(`${step} +${(now - lastStep).toFixed(0)}`);
        lastStep = now;
      },
    });
    agentsChildren = [await startAgents(server.url, ARCHES, tmp)];
    const ctl = new AbortController();
    const passes: { reason: string; results: number; dispatched: number; ms: number }[] = [];
    let recorded = 0;
    const meter = await cpuMeter({ reconciler: [process.pid], agents: agentsChildren.map((c) => c.pid), 'nats-server': [server.pid()] });
    const clients0 = await messagesByClient(server);
    const t0 = performance.now();
    const profiler = sectionProfiler(PROFILE_DIR);
    const loop = () => watch(
      {
        runPass: () => {
          lastStep = performance.now();
          return rec.runPass();
        },
        readHead: () => rec.readHead(),
        resultsWaiting: () => rec.session!.resultsWaiting(),
        lease: rec.lease,
        onPass: (r, reason) => {
          passes.push({ reason: `${reason}; steps ${steps.splice(0).join(', ')}`, results: r.results, dispatched: r.dispatched, ms: r.ms });
          recorded += r.results;
          if (recorded >= JOBS) ctl.abort();
        },
        log, signal: ctl.signal, now: () => new Date(), random: Math.random,
      },
      { intervalMs: 60_000, pollMs: 100, batchMs: 1000, batchMax: JOBS / 2 },
    ).done;
    await profiler.section('reconciler', loop);
    const endToEnd = performance.now() - t0;
    const endToEndCpu = await meter();
    const clients1 = await messagesByClient(server);
    const clientMessages = ['reconciler', 'agents'].map((k) => {
      const [a, b] = [clients0.get(k) ?? { sent: 0, received: 0 }, clients1.get(k) ?? { sent: 0, received: 0 }];
      return `${k} sent ${((b.sent - a.sent) / JOBS).toFixed(2)}, received ${((b.received - a.received) / JOBS).toFixed(2)}`;
    });
    const commits = Number(await git(repo.dir, 'rev-list', '--count', STATUS_BRANCH));
    const records = Number(await git(repo.dir, 'ls-tree', '-r', '--name-only', STATUS_BRANCH, 'builds/').then((s) => s.split('\n').filter(Boolean).length));
    const succeeded = [...(rec.memo.observed?.state.builds.values() ?? [])].filter((b) => b.state === 'succeeded').length;
    await rec.close();
    const stored = await messagesPerStream(nc);

    const soloMeter = await cpuMeter({ agents: agentsChildren.map((c) => c.pid), 'nats-server': [server.pid()] });
    const solo = await agentsAlone(nc, [...(rec.memo.observed?.state.builds.values() ?? [])]);
    const soloCpu = await soloMeter();
    const rawMeter = await cpuMeter({ 'bench (client)': [process.pid], 'nats-server': [server.pid()] });
    const raw = await rawLoop(nc, JOBS);
    const rawCpu = await rawMeter();
    const signing = await signingAlone(key.privateKeyArmored, JOBS);
    const rate = (JOBS / endToEnd) * 1000;
    const rawRate = (JOBS / raw) * 1000;
    console.log(`bench-dispatch: ${JOBS} jobs (${PACKAGES} packages × ${ARCHES.length} arches), ${ARCHES.length} NoopRunner agents × ${AGENT_CONCURRENCY} in a child process`);
    console.log('  (pass steps: "observed" includes collecting results: fetch, verify digests, sign)');
    for (const p of passes) console.log(`  pass (${p.reason}): dispatched ${p.dispatched}, collected ${p.results}, ${p.ms} ms`);
    console.log(`  end to end (first pass to last result recorded): ${(endToEnd / 1000).toFixed(2)} s = ${rate.toFixed(0)} jobs/s   [target ≥ 500]`);
    console.log(`    CPU ms per job: ${perJob(endToEndCpu, JOBS)}`);
    console.log(`    NATS messages per job: ${clientMessages.join('; ')}`);
    console.log(`    NATS messages stored per job: ${Object.entries(stored).map(([k, n]) => `${k} ${(n / JOBS).toFixed(2)}`).join(', ')}`);
    console.log(`  agents alone (dispatch → NoopRunner agents → results waiting, no reconciler): ${(solo / 1000).toFixed(2)} s = ${((JOBS / solo) * 1000).toFixed(0)} jobs/s`);
    console.log(`    CPU ms per job: ${perJob(soloCpu, JOBS)}`);
    console.log(`  raw JetStream loop, same count: ${(raw / 1000).toFixed(2)} s = ${rawRate.toFixed(0)} jobs/s`);
    console.log(`    CPU ms per job: ${perJob(rawCpu, JOBS)}`);
    console.log(`  signing alone: ${JOBS} no-op .debs through the signer's worker, 64 at a time: ${(signing.ms / 1000).toFixed(2)} s, CPU ${signing.cpuMs.toFixed(2)} ms per signature`);
    console.log(`  load average at the end: ${loadavg().map((l) => l.toFixed(1)).join(' ')} (${cpus().length} cores)`);
    console.log(`  ratio end to end / raw: ${(endToEnd / raw).toFixed(2)}×   [target ≤ 2.5×]`);
    console.log(`  status commits: ${commits} (records ${records}, succeeded ${succeeded})   [target ≤ 4]`);
  } finally {
    await Promise.all(
      agentsChildren.filter((c) => c.exitCode === null).map((c) => {
        c.kill('SIGTERM');
        return new Promise((r) => c.once('exit', r));
      }),
    );
    await nc.close();
    await server.dispose();
    await rm(tmp, { recursive: true, force: true });
  }
}

await main();
