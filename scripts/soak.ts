// A bounded chaos run (scripts/soak --help): a 3-node JetStream cluster, the
// real `kiln reconcile --watch` and soak agents (the real Agent with a runner
// that makes a tiny real .deb instead of building) as child processes, N builds
// added in waves, and seeded SIGKILLs of agents, the reconciler and one
// nats-server node (each restarted after a while). Then the invariants of
// soak-parts/invariants.ts are checked and printed; the exit code is 1 if one fails.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { pino } from 'pino';
import { connectNats } from '../reconciler/nats/connect.ts';
import { generateKey } from '../reconciler/signing/signer.ts';
import { readObserved } from '../reconciler/status/reader.ts';
import { RESULTS_CONSUMER, STREAMS } from '../schema/nats.ts';
import { STATUS_BRANCH, type BuildRecord } from '../schema/status.ts';
import { debSource, makeDebRepo } from '../test/fixtures/deb-source.ts';
import { commitFiles, git, makeRepo } from '../test/helpers/git.ts';
import { startNatsCluster, type ClusterNode, type NatsCluster } from '../test/helpers/nats-cluster.ts';
import type { AgentSettings } from './soak-parts/agent-main.ts';
import { checkPublished, checkRecords, checkResults, type Check, type JournalLine } from './soak-parts/invariants.ts';
import { chaosWindowMs, soakSchedule, type SoakEvent } from './soak-parts/schedule.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const HELP = `Usage: scripts/soak [--minutes M] [--seed S] [--builds N] [--agents A] [--keep]

A bounded chaos run of N builds on a 3-node NATS cluster with random SIGKILLs of
agents, the reconciler and one nats-server node; then the invariants are checked.
  --minutes M  how long builds are added and faults happen (default 10); then
               up to 3 more minutes for the loop to converge
  --seed S     replay a run (default: random, printed at start)
  --builds N   builds (packages) added in waves over the run (default 120)
  --agents A   agent processes (default 3, two builds each); a build takes 2-20 s
  --keep       keep the run's directory (logs, repos) even when it passes
Exit status: 0 every invariant holds, 1 one failed, 2 usage error.`;

const DIST = 'soak';
const KILN_YAML = `trust:\n  keys: []\n  requireSignedCommits: false\npools:\n  deb:\n    architectures: [amd64]\ndefaults:\n  pool: deb\n  image: kiln/bookworm-debhelper\n  maxAttempts: 3\n  keep: 3\n`;
const DIST_YAML = `name: ${DIST}\nformat: apt\nsuite: ${DIST}\ncodename: ${DIST}\ncomponents: [main]\narchitectures: [amd64]\norigin: Kiln\nlabel: Kiln soak\ndescription: Soak test packages\nkeep: 3\ngate: none\n`;
const packageYaml = (name: string, src: string) =>
  `name: ${name}\nversion: '1.0'\nsource:\n  git: ${src}\n  ref: main\nformat: deb\narchitectures: [amd64]\nrelease: [${DIST}]\n`;

/** A child process the soak restarts after it is killed, and blames when it exits on its own. */
class Supervised {
  child: ChildProcess | undefined;
  readonly unexpected: string[] = [];
  private stopping = false;
  constructor(
    readonly name: string,
    private readonly argv: string[],
    private readonly logFile: string,
  ) {}

  alive(): boolean {
    return this.child !== undefined && this.child.exitCode === null && this.child.signalCode === null;
  }

  start(): void {
    if (this.alive() || this.stopping) return;
    const child = spawn(process.execPath, this.argv, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    const out = createWriteStream(this.logFile, { flags: 'a' });
    child.stdout?.pipe(out);
    child.stderr?.pipe(out);
    child.once('exit', (code, signal) => {
      if (this.child !== child || this.stopping) return;
      this.child = undefined;
      // Not killed by the soak: a crash (or a clean exit nobody asked for). Note it and restart.
      this.unexpected.push(`${this.name} exited by itself (code ${code}, signal ${signal}) at ${new Date().toISOString()}`);
      setTimeout(() => !this.stopping && this.start(), 1000);
    });
    this.child = child;
  }

  /** SIGKILL; false when it was not running (killed before and not back yet). */
  async kill(): Promise<boolean> {
    const c = this.child;
    if (!c || !this.alive()) return false;
    this.child = undefined;
    await new Promise((r) => {
      c.once('exit', r);
      c.kill('SIGKILL');
    });
    return true;
  }

  /** SIGTERM, then SIGKILL after `graceMs`. */
  async stop(graceMs = 30_000): Promise<void> {
    this.stopping = true;
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const exited = new Promise((r) => c.once('exit', r));
    c.kill('SIGTERM');
    if ((await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)])) === false) c.kill('SIGKILL');
    await exited;
  }
}

function options() {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      seed: { type: 'string' },
      builds: { type: 'string', default: '120' },
      agents: { type: 'string', default: '3' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) {
    console.log(HELP);
    process.exit(0);
  }
  const int = (name: string, v: string | undefined, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) {
      console.error(`soak: --${name} takes a whole number >= ${min}, got '${v}'\n\n${HELP}`);
      process.exit(2);
    }
    return n;
  };
  const minutes = Number(values.minutes);
  if (!(minutes > 0)) {
    console.error(`soak: --minutes takes a positive number, got '${values.minutes}'`);
    process.exit(2);
  }
  return {
    minutes,
    seed: values.seed === undefined ? Math.floor(Math.random() * 2 ** 31) : int('seed', values.seed, 0),
    builds: int('builds', values.builds, 1),
    agents: int('agents', values.agents, 1),
    keep: values.keep,
  };
}

async function main(): Promise<number> {
  const o = options();
  const durationMs = Math.round(o.minutes * 60_000);
  console.log(`soak: seed ${o.seed}, ${o.minutes} min, ${o.builds} builds, ${o.agents} agents, 3 nats-server nodes`);
  console.log(`soak: replay with scripts/soak --seed ${o.seed} --minutes ${o.minutes} --builds ${o.builds} --agents ${o.agents}`);
  const events = soakSchedule({ seed: o.seed, durationMs, builds: o.builds, agents: o.agents, nodes: 3 });
  const dir = await mkdtemp(join(tmpdir(), 'kiln-soak-'));
  const logs = join(dir, 'logs');
  await mkdir(logs);
  console.log(`soak: run directory ${dir}`);
  const log = pino({ level: 'warn' }, pino.destination(join(logs, 'soak.log')));

  const cluster = await startNatsCluster(undefined, { logDir: logs });
  const key = await generateKey({ name: 'Kiln Soak Reconciler', email: 'soak@kiln.invalid' });
  const keyFile = join(dir, 'release.key.asc');
  await writeFile(keyFile, key.privateKeyArmored, { mode: 0o600 });
  await writeFile(join(dir, 'release.pub.asc'), key.publicKeyArmored);
  const keyring = join(dir, 'release.gpg');
  await new Promise((res, rej) => spawn('gpg', ['--batch', '--yes', '--dearmor', '-o', keyring, join(dir, 'release.pub.asc')], { stdio: 'ignore' }).on('exit', (c) => (c === 0 ? res(c) : rej(new Error(`gpg --dearmor exited ${c}`)))));
  const reposDir = join(dir, 'repos');
  const journal = join(dir, 'journal.jsonl');
  await writeFile(journal, '');

  // Every package's source repo first, so the waves are only metadata commits.
  const sources = new Map<string, string>();
  for (const p of events.flatMap((e) => (e.kind === 'add-builds' ? e.packages : []))) {
    sources.set(p, (await makeDebRepo(debSource({ name: p }), dir)).dir);
  }
  const meta = await makeRepo({ 'kiln.yaml': KILN_YAML, [`distributions/${DIST}.yaml`]: DIST_YAML }, { dir: await mkdtemp(join(dir, 'metadata-')) });

  const reconciler = new Supervised(
    'reconciler',
    [join(ROOT, 'bin/kiln.js'), 'reconcile', '--repo', meta.dir, '--nats', cluster.url, '--watch', '--interval', '5', '--signing-key', keyFile, '--repos', reposDir],
    join(logs, 'reconciler.log'),
  );
  const agents = Array.from({ length: o.agents }, (_, i) => {
    const s: AgentSettings = { natsUrl: cluster.url, id: `soak-agent-${i}`, workDir: join(dir, 'work'), journal, seed: o.seed, concurrency: 2, minMs: 2000, maxMs: 20_000 };
    return new Supervised(s.id, ['--import', 'tsx', join(ROOT, 'scripts/soak-parts/agent-main.ts'), JSON.stringify(s)], join(logs, `${s.id}.log`));
  });
  reconciler.start();
  for (const a of agents) a.start();

  const nc = await connectNats(cluster.url, { name: 'soak', log, reconnectTimeWaitMs: 250 });
  const declared: string[] = [];
  const kills = { agent: 0, reconciler: 0, nats: { 'stream-leader': 0, 'meta-leader': 0, 'any-node': 0 } };
  const restarts: Promise<void>[] = [];
  const t0 = Date.now();
  const say = (msg: string) => console.log(`soak: ${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s  ${msg}`);

  const natsVictim = async (e: Extract<SoakEvent, { kind: 'kill-nats' }>): Promise<ClusterNode> => {
    if (e.target === 'meta-leader') return cluster.metaLeader();
    if (e.target === 'stream-leader') return cluster.streamLeader(STREAMS.builds);
    return cluster.nodes[e.node];
  };
  for (const e of events) {
    await sleep(Math.max(0, t0 + e.at - Date.now()));
    if (e.kind === 'add-builds') {
      declared.push(...e.packages);
      await commitFiles(meta.dir, Object.fromEntries(e.packages.map((p) => [`packages/${p}.yaml`, packageYaml(p, sources.get(p)!)])), `soak: add ${e.packages.length} packages`);
      say(`added ${e.packages.length} builds (${declared.length} of ${o.builds})`);
    } else if (e.kind === 'kill-agent') {
      const a = agents[e.agent];
      if (!(await a.kill())) {
        say(`${a.name} is still down: no SIGKILL`);
        continue;
      }
      kills.agent++;
      say(`SIGKILL ${a.name}; back in ${(e.restartAfterMs / 1000).toFixed(1)} s`);
      restarts.push(sleep(e.restartAfterMs).then(() => a.start()));
    } else if (e.kind === 'kill-reconciler') {
      if (!(await reconciler.kill())) {
        say('the reconciler is still down: no SIGKILL');
        continue;
      }
      kills.reconciler++;
      say(`SIGKILL reconciler; back in ${(e.restartAfterMs / 1000).toFixed(1)} s`);
      restarts.push(sleep(e.restartAfterMs).then(() => reconciler.start()));
    } else {
      const node = await natsVictim(e).catch(() => cluster.nodes[e.node]);
      await node.kill('SIGKILL');
      kills.nats[e.target]++;
      say(`SIGKILL nats-server ${node.name} (${e.target}); back in ${(e.restartAfterMs / 1000).toFixed(1)} s`);
      restarts.push(sleep(e.restartAfterMs).then(() => node.start()));
    }
  }
  await sleep(Math.max(0, t0 + chaosWindowMs(durationMs) - Date.now()));
  await Promise.all(restarts);
  const chaosEnd = Date.now();
  say('faults over; waiting for the loop to converge');

  const converged = await waitConverged(meta.dir, nc, declared, t0 + durationMs + 180_000);
  const convergeMs = Date.now() - chaosEnd;
  say(converged ? `converged ${(convergeMs / 1000).toFixed(1)} s after the last fault` : 'NOT converged by the deadline');
  await Promise.all([reconciler.stop(), ...agents.map((a) => a.stop())]);

  const { state } = await readObserved({ dir: meta.dir, cache: {} });
  const recordFiles = (await git(meta.dir, 'ls-tree', '-r', '--name-only', STATUS_BRANCH)).split('\n').filter((f) => f.startsWith('builds/'));
  const lines = (await readFile(journal, 'utf8')).split('\n').filter(Boolean).map((l) => JSON.parse(l) as JournalLine);
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const resultsLeft = (await jsm.streams.info(STREAMS.results)).state.messages;
  const checks: Check[] = [
    checkRecords(declared, [...state.builds.values()], recordFiles),
    checkResults(lines, state.builds, resultsLeft),
    await checkPublished(join(reposDir, DIST), DIST, keyring, state.builds, state.releases.get(DIST)).catch((e: unknown) => ({ name: 'published index', ok: false, detail: (e as Error).message })),
    { name: 'no process exited by itself', ok: [reconciler, ...agents].every((p) => p.unexpected.length === 0), detail: [reconciler, ...agents].flatMap((p) => p.unexpected).join('; ') || 'none' },
  ];
  printFigures({ state: state.builds, lines, kills, cluster, commits: await git(meta.dir, 'rev-list', '--count', STATUS_BRANCH), durationMs: Date.now() - t0, convergeMs, declared: declared.length });
  for (const c of checks) console.log(`soak: invariant ${c.ok ? 'ok  ' : 'FAIL'} ${c.name}: ${c.detail}`);
  const ok = converged && checks.every((c) => c.ok);
  console.log(`soak: ${ok ? 'PASS' : 'FAIL'} (seed ${o.seed})`);

  await nc.close();
  await cluster.dispose();
  if (ok && !o.keep) await rm(dir, { recursive: true, force: true });
  else console.log(`soak: kept ${dir}`);
  return ok ? 0 : 1;
}

async function waitConverged(repo: string, nc: Awaited<ReturnType<typeof connectNats>>, declared: string[], deadline: number): Promise<boolean> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const cache = {};
  for (;;) {
    try {
      const { state } = await readObserved({ dir: repo, cache });
      const builds = [...state.builds.values()];
      const final = builds.filter((r) => r.state === 'succeeded' || (r.state === 'failed' && !r.retryAt));
      const published = new Set((state.releases.get(DIST)?.packages ?? []).map((p) => p.name));
      const results = await jsm.consumers.info(STREAMS.results, RESULTS_CONSUMER);
      const jobs = (await jsm.streams.info(STREAMS.builds)).state.messages;
      if (
        final.length === declared.length && builds.length === declared.length &&
        builds.every((r) => r.state !== 'succeeded' || published.has(r.inputs.package)) &&
        results.num_pending + results.num_ack_pending === 0 && jobs === 0
      ) return true;
    } catch {
      // A status branch being written or a broker electing a leader: look again.
    }
    if (Date.now() > deadline) return false;
    await sleep(2000);
  }
}

function printFigures(f: { state: Map<string, BuildRecord>; lines: JournalLine[]; kills: { agent: number; reconciler: number; nats: Record<string, number> }; cluster: NatsCluster; commits: string; durationMs: number; convergeMs: number; declared: number }): void {
  const records = [...f.state.values()];
  const count = <T>(xs: T[], k: (x: T) => string) => Object.entries(xs.reduce<Record<string, number>>((m, x) => ((m[k(x)] = (m[k(x)] ?? 0) + 1), m), {})).map(([a, b]) => `${a} ${b}`).join(', ');
  const runs = f.lines.filter((l) => l.kind === 'run');
  const perKey = new Map<string, number>();
  for (const r of runs) perKey.set(r.key, (perKey.get(r.key) ?? 0) + 1);
  const results = f.lines.filter((l) => l.kind === 'result');
  console.log(`soak: ran ${(f.durationMs / 60_000).toFixed(1)} min; converged ${(f.convergeMs / 1000).toFixed(1)} s after the last fault`);
  console.log(`soak: SIGKILLs: agents ${f.kills.agent}, reconciler ${f.kills.reconciler}, nats-server ${Object.values(f.kills.nats).reduce((a, b) => a + b, 0)} (${count(Object.entries(f.kills.nats).flatMap(([k, n]) => Array(n).fill(k)), (x) => x)})`);
  console.log(`soak: builds declared ${f.declared}, records ${records.length} (${count(records, (r) => (r.state === 'failed' ? `failed/${r.failure?.class}` : r.state))})`);
  console.log(`soak: attempts per record: ${count(records, (r) => `${r.attempts.length}x`)}`);
  console.log(`soak: builds run ${runs.length} times for ${perKey.size} keys (run more than once: ${[...perKey.values()].filter((n) => n > 1).length})`);
  console.log(`soak: results stored ${results.filter((r) => !r.duplicate).length}, deduplicated re-publishes ${results.filter((r) => r.duplicate).length}`);
  console.log(`soak: status commits ${f.commits}`);
}

process.exitCode = await main();
