// Starts a real 3-node nats-server cluster with JetStream on loopback: free
// client, route and monitoring ports, one temp store per node. Nodes can be
// SIGKILLed and started again on the same ports and store, and the helper can
// say which node leads the JetStream meta group or a stream (from /jsz).
// It returns once the cluster is whole, not merely once a meta leader exists
// (two nodes suffice to elect one): every node routes to every other, so a
// client's INFO lists them all (what Kiln's auto replica count reads), and the
// meta leader can place a stream on all of them. Returning earlier made
// ensureTopology choose two replicas, or fail with "no suitable peers for
// placement", about 1 run in 10 under load.
//   const cluster = await startNatsCluster(t);   // disposed in t.after
//   await cluster.node('n1').kill(); await cluster.node('n1').start();
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { freePort, waitForLine } from './nats.ts';
import { until } from './until.ts';

export interface ClusterNode {
  name: string;
  /** Client URL of this node alone. */
  url: string;
  port: number;
  storeDir: string;
  running(): boolean;
  /** Kill the process (default SIGKILL) and wait for it to exit; the store stays. */
  kill(signal?: NodeJS.Signals): Promise<void>;
  /** Start it again on the same ports and store; resolves once it serves clients. */
  start(): Promise<void>;
}

export interface NatsCluster {
  nodes: ClusterNode[];
  /** Every node's client URL, comma-separated (what `--nats` takes). */
  url: string;
  node(name: string): ClusterNode;
  /** The node leading the JetStream meta group, once one is elected. */
  metaLeader(timeoutMs?: number): Promise<ClusterNode>;
  /** The node leading `stream`'s raft group, once one is elected. */
  streamLeader(stream: string, timeoutMs?: number): Promise<ClusterNode>;
  /** Kill every node and delete the stores. */
  dispose(): Promise<void>;
}

interface Jsz {
  meta_cluster?: { leader?: string; cluster_size?: number };
  account_details?: { stream_detail?: { name: string; cluster?: { leader?: string } }[] }[];
}

export interface ClusterOptions {
  size?: number;
  /** Where node logs go (default: discarded). */
  logDir?: string;
  /** Nodes started only once the others have elected a meta leader (a slow node; the helper's own test). */
  late?: string[];
}

/** How long a cluster may take to become whole (under load: seconds). */
const WHOLE_TIMEOUT_MS = 60_000;

export async function startNatsCluster(t?: { after(fn: () => Promise<void>): void }, opts: ClusterOptions = {}): Promise<NatsCluster> {
  const size = opts.size ?? 3;
  const root = await mkdtemp(join(tmpdir(), 'kiln-nats-cluster-'));
  const specs = [];
  for (let i = 1; i <= size; i++) specs.push({ name: `n${i}`, port: await freePort(), routePort: await freePort(), httpPort: await freePort() });
  const routes = specs.map((s) => `nats-route://127.0.0.1:${s.routePort}`);
  const nodes: (ClusterNode & { httpPort: number })[] = [];
  for (const s of specs) {
    const storeDir = join(root, s.name);
    const conf = join(root, `${s.name}.conf`);
    await writeFile(
      conf,
      [
        `server_name: ${s.name}`,
        `listen: 127.0.0.1:${s.port}`,
        `http: 127.0.0.1:${s.httpPort}`,
        `jetstream { store_dir: ${JSON.stringify(storeDir)} }`,
        `cluster { name: kiln, listen: 127.0.0.1:${s.routePort}, routes: [${routes.join(', ')}] }`,
        '',
      ].join('\n'),
    );
    let proc: ChildProcess | undefined;
    const node = {
      name: s.name,
      url: `nats://127.0.0.1:${s.port}`,
      port: s.port,
      httpPort: s.httpPort,
      storeDir,
      running: () => proc !== undefined && proc.exitCode === null && proc.signalCode === null,
      async kill(signal: NodeJS.Signals = 'SIGKILL') {
        const p = proc;
        proc = undefined;
        if (!p || p.exitCode !== null || p.signalCode !== null) return;
        await new Promise<void>((resolve) => {
          p.once('exit', () => resolve());
          p.kill(signal);
        });
      },
      async start() {
        if (node.running()) return;
        proc = spawn('nats-server', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
        if (opts.logDir) proc.stderr?.pipe(createWriteStream(join(opts.logDir, `${s.name}.log`), { flags: 'a' }));
        await waitForLine(proc, /Server is ready/, 15_000);
        proc.stderr?.resume();
      },
    };
    nodes.push(node);
  }
  const late = new Set(opts.late ?? []);
  await Promise.all(nodes.filter((n) => !late.has(n.name)).map((n) => n.start()));

  const jsz = async (n: (typeof nodes)[number]): Promise<Jsz | undefined> => {
    if (!n.running()) return undefined;
    const res = await fetch(`http://127.0.0.1:${n.httpPort}/jsz?streams=true&accounts=true`).catch(() => undefined);
    return res?.ok ? ((await res.json()) as Jsz) : undefined;
  };
  const node = (name: string) => {
    const n = nodes.find((x) => x.name === name);
    if (!n) throw new Error(`no node ${name} in the cluster`);
    return n;
  };
  /** Ask the running nodes until one names a leader. */
  const leader = async (what: string, pick: (j: Jsz) => string | undefined, timeoutMs: number) => {
    const end = Date.now() + timeoutMs;
    for (;;) {
      for (const n of nodes) {
        const j = await jsz(n);
        const name = j && pick(j);
        if (name && node(name).running()) return node(name);
      }
      if (Date.now() > end) throw new Error(`no ${what} leader within ${timeoutMs} ms`);
      await sleep(100);
    }
  };
  const cluster: NatsCluster = {
    nodes,
    url: nodes.map((n) => n.url).join(','),
    node,
    metaLeader: (timeoutMs = 15_000) => leader('meta', (j) => j.meta_cluster?.leader, timeoutMs),
    streamLeader: (stream, timeoutMs = 15_000) =>
      leader(`stream ${stream}`, (j) => j.account_details?.flatMap((a) => a.stream_detail ?? []).find((d) => d.name === stream)?.cluster?.leader, timeoutMs),
    async dispose() {
      await Promise.all(nodes.map((n) => n.kill()));
      await rm(root, { recursive: true, force: true });
    },
  };
  try {
    // JetStream answers only once the meta group has a leader; then every node must have joined.
    await cluster.metaLeader();
    await Promise.all(nodes.filter((n) => late.has(n.name)).map((n) => n.start()));
    await untilWhole(nodes, WHOLE_TIMEOUT_MS);
  } catch (e) {
    await cluster.dispose();
    throw e;
  }
  t?.after(() => cluster.dispose());
  return cluster;
}

/** Every node routes to all the others, then a stream with one replica per node is created (and deleted). */
async function untilWhole(nodes: (ClusterNode & { httpPort: number })[], timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  const peers = async (n: (typeof nodes)[number]) => {
    const res = await fetch(`http://127.0.0.1:${n.httpPort}/routez`).catch(() => undefined);
    const body = res?.ok ? ((await res.json()) as { routes?: { remote_id: string }[] }) : undefined;
    return new Set((body?.routes ?? []).map((r) => r.remote_id)).size;
  };
  await until(async () => (await Promise.all(nodes.map(peers))).every((p) => p >= nodes.length - 1), timeoutMs, "the cluster's routes to all form", 100);
  // The meta leader learns each peer's JetStream limits after the routes (statsz): until then it cannot place on it.
  const nc = await connect({ servers: nodes.map((n) => n.url) });
  let refusal: unknown;
  try {
    const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 2000 });
    const name = 'KILN_TEST_CLUSTER_WHOLE';
    const placed = async () => {
      try {
        await jsm.streams.add({ name, subjects: ['kiln-test.cluster-whole'], storage: StorageType.Memory, num_replicas: nodes.length });
        await jsm.streams.delete(name);
        return true;
      } catch (e) {
        refusal = e;
        return false;
      }
    };
    await until(placed, Math.max(0, end - Date.now()), `a stream placed on all ${nodes.length} nodes`, 200).catch((e: Error) => {
      throw new Error(`${e.message}: ${(refusal as Error | undefined)?.message}`, { cause: refusal });
    });
  } finally {
    await nc.close();
  }
}
