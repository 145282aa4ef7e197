// Benchmark (webhook part of bench-forge): a commit lands on the tracked branch
// → the build job it asks for is on the queue (KILN_BUILDS), on a real
// nats-server with a real `watch` loop and the real webhook receiver:
//   webhook: the commit, then a signed push delivery (GitHub form) → wake → pass → dispatch;
//   polling: the commit alone, seen by the loop's HEAD poll (the default: every second);
//   baseline: the commit, then the pass called directly (no loop, no HTTP): what the
//             pass itself costs, so the webhook's overhead is the ratio to it.
// Each: the median (and p90) over RUNS commits (default 20). The clock stops when
// a core NATS subscriber on kiln.build.> receives the job.
// The metadata repo is the reconciler's own clone (remote mirrors are issue 8 item 1).
// Run: node --import tsx scripts/bench-forge-webhook.ts [RUNS]
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sign } from '@octokit/webhooks-methods';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { startReceiver } from '../reconciler/forge/cli-wiring.ts';
import { openReconciler, type Reconciler } from '../reconciler/reconciler-setup.ts';
import { generateKey } from '../reconciler/signing/signer.ts';
import { watch } from '../reconciler/watch.ts';
import { SUBJECTS } from '../schema/nats.ts';
import { commitFiles, makeRepo } from '../test/helpers/git.ts';
import { startNats } from '../test/helpers/nats.ts';

const RUNS = Math.max(20, Number(process.argv[2] ?? 20));
const WARMUP = 2;
const SECRET = 'bench-secret';
const log = pino({ level: process.env.KILN_LOG_LEVEL ?? 'warn' }, pino.destination(2));
const KILN_YAML = 'trust:\n  requireSignedCommits: false\npools:\n  deb:\n    architectures: [amd64]\ndefaults:\n  pool: deb\n  image: kiln/bookworm-debhelper\n';
const pkg = (rebuild: number, source: { dir: string; commit: string }) => `name: hello\nversion: 1.0-1\nsource:\n  git: ${source.dir}\n  ref: ${source.commit}\nformat: deb\narchitectures: [amd64]\nrebuild: ${rebuild}\n`;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * 0.9))];

async function main() {
  const tmp = await mkdtemp(join(tmpdir(), 'kiln-bench-forge-'));
  const server = await startNats();
  const nc = await connect({ servers: server.url });
  let jobArrived: (() => void) | undefined;
  const sub = nc.subscribe(SUBJECTS.buildsAll);
  void (async () => {
    for await (const _ of sub) jobArrived?.();
  })();
  const nextJob = () => new Promise<void>((resolve) => (jobArrived = resolve));

  const source = await makeRepo({ README: 'source\n' });
  const repo = await makeRepo({ 'kiln.yaml': KILN_YAML, 'packages/hello.yaml': pkg(0, source) });
  const key = await generateKey({ name: 'Kiln Bench', email: 'bench@kiln.invalid' });
  let rebuild = 0;
  const commit = () => commitFiles(repo.dir, { 'packages/hello.yaml': pkg(++rebuild, source) }, `rebuild ${rebuild}`);
  const open = () => openReconciler({ repoDir: repo.dir, natsUrl: server.url, signingKey: { keyArmored: key.privateKeyArmored }, artifactsDir: join(tmp, 'artifacts'), forge: {}, log });

  /** Time from the commit to its job on the queue, RUNS times after WARMUP. */
  async function measure(trigger: (head: string) => Promise<void>): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < WARMUP + RUNS; i++) {
      const job = nextJob();
      const head = await commit();
      const t0 = performance.now();
      await trigger(head);
      await job;
      if (i >= WARMUP) out.push(performance.now() - t0);
    }
    return out;
  }

  async function withLoop(fn: (rec: Reconciler, wake: (r: string) => void, url: string) => Promise<number[]>): Promise<number[]> {
    const rec = await open();
    const ctl = new AbortController();
    const loop = watch({ runPass: () => rec.runPass(), readHead: () => rec.readHead(), lease: rec.lease, log, signal: ctl.signal, now: () => new Date(), random: Math.random }, { intervalMs: 60_000 });
    const receiver = await startReceiver({ listen: '127.0.0.1:0', secret: SECRET }, { repoDir: repo.dir, forge: rec.forge! }, (r) => loop.wake(r), log);
    try {
      await new Promise((r) => setTimeout(r, 1500)); // the loop's first pass (reason "start")
      return await fn(rec, (r) => loop.wake(r), receiver.url);
    } finally {
      ctl.abort();
      await loop.done;
      await receiver.close();
      await rec.close();
    }
  }

  try {
    let delivery = 0;
    const webhook = await withLoop((_rec, _wake, url) =>
      measure(async (head) => {
        const body = JSON.stringify({ ref: 'refs/heads/main', after: head, repository: { full_name: 'acme/metadata' } });
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': `bench-${++delivery}`, 'x-hub-signature-256': await sign(SECRET, body) },
          body,
        });
        if (res.status !== 202) throw new Error(`webhook answered ${res.status}: ${await res.text()}`);
      }),
    );
    const polling = await withLoop(() => measure(async () => undefined));
    const rec = await open();
    let direct: number[];
    try {
      await rec.runPass();
      direct = await measure(async () => void (await rec.runPass()));
    } finally {
      await rec.close();
    }

    const fmt = (xs: number[]) => `median ${median(xs).toFixed(0)} ms, p90 ${p90(xs).toFixed(0)} ms`;
    console.log(`bench-forge (webhook part): commit on the tracked branch → build job on KILN_BUILDS, ${RUNS} runs each (after ${WARMUP} warm-up)`);
    console.log(`  via webhook (signed push → wake → pass → dispatch):  ${fmt(webhook)}   [target ≤ 200 ms median]`);
    console.log(`  via polling (HEAD polled every 1 s, full pass every --interval 60 s): ${fmt(polling)}`);
    console.log(`  baseline: the pass called directly:                   ${fmt(direct)}`);
    console.log(`  ratio webhook / direct pass: ${(median(webhook) / median(direct)).toFixed(2)}×; polling / webhook: ${(median(polling) / median(webhook)).toFixed(1)}×`);
  } finally {
    sub.unsubscribe();
    await nc.close();
    await server.dispose();
    await rm(tmp, { recursive: true, force: true });
  }
}

await main();
