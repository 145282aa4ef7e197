// Benchmark of `kiln check` (the pull-request check) on a generated metadata
// repo of 10,000 packages whose kiln/status is converged: a one-file PR checked
//   - warm, in process, with the base's desired state already read (what a
//     running reconciler has in memory when a pull_request webhook arrives)
//     and the base's plan kept between checks (the first check computes it);
//   - cold, in process (every file of the base read and parsed);
//   - cold, through the CLI (process start included);
// against the baseline of a one-change reconcile pass on the same repo (median
// of 5). Targets: warm check ≤ 150 ms and ≤ 2× a one-change pass. Asserts nothing.
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { checkRevision, type CheckMemo } from '../reconciler/check/check-revision.ts';
import { reconcilePass, type PassMemo } from '../reconciler/pass.ts';
import { DEFAULT_POLICY, type PassDeps } from '../reconciler/pass/deps.ts';
import { generateKey, loadSigner } from '../reconciler/signing/signer.ts';
import { readObserved } from '../reconciler/status/reader.ts';
import { recordConverged } from '../test/helpers/converged-status.ts';
import { commitChange, generateRepo, SOURCE } from './bench-repo.ts';

const run = promisify(execFile);
const log = pino({ level: 'warn' });
const N = Number(process.argv[2] ?? 10_000);
const RUNS = 5;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function ms(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return performance.now() - t;
}

const signer = await loadSigner((await generateKey({ name: 'Kiln Bench', email: 'bench@kiln.invalid' })).privateKeyArmored);
const dir = await generateRepo(N);
try {
  await recordConverged(dir, signer, log);
  const deps: PassDeps = { repoDir: dir, rev: 'HEAD', cache: {}, signer, log, now: () => new Date(), random: Math.random, policy: DEFAULT_POLICY, artifactsDir: join(dir, '.kiln-artifacts'), gateImage: 'kiln/bookworm-buildd' };
  const memo: PassMemo = {};
  await reconcilePass(deps, memo); // reads everything once: the reconciler's warm state

  // One-file PR branches off main (a rebuild bump of one package each).
  for (let k = 0; k < RUNS; k++) {
    await run('git', ['switch', '-q', '-c', `pr-${k}`, 'main'], { cwd: dir });
    await commitChange(dir, 100 + k);
    await run('git', ['switch', '-q', 'main'], { cwd: dir });
  }
  const observed = memo.observed!.state;
  const warm: number[] = [];
  const checkMemo: CheckMemo = {}; // the base's plan, computed by the first check and reused by the next ones
  let actions = 0;
  for (let k = 0; k < RUNS; k++) {
    warm.push(
      await ms(async () => {
        const r = await checkRevision({ dir, cache: deps.cache, rev: `pr-${k}`, base: 'main', observed, now: new Date(), baseSnapshot: memo.desired, memo: checkMemo, log });
        actions = r.diff.added.length;
      }),
    );
  }
  const cold = await ms(async () => {
    const cache = {};
    const { state } = await readObserved({ dir, cache, log });
    await checkRevision({ dir, cache, rev: 'pr-0', base: 'main', observed: state, now: new Date(), log });
  });
  const cli = await ms(() => run(process.execPath, ['bin/kiln.js', 'check', '--repo', dir, '--rev', 'pr-0', '--base', 'main', '--json'], { maxBuffer: 64 << 20 }));

  // Baseline: one-change passes on main, as scripts/bench-plan measures them.
  const passes: number[] = [];
  for (let k = 0; k < RUNS; k++) {
    await commitChange(dir, 5000 + k);
    passes.push(await ms(() => reconcilePass(deps, memo)));
  }
  const w = median(warm);
  const p = median(passes);
  console.log(`== kiln check of a one-file PR, ${N} packages (median of ${RUNS})`);
  console.log(`warm check (base read, reconciler memo):  ${w.toFixed(1)} ms  (${actions} action added)   target ≤ 150 ms`);
  console.log(`  first of them (plans the base too):     ${warm[0].toFixed(1)} ms`);
  console.log(`one-change pass (baseline):               ${p.toFixed(1)} ms`);
  console.log(`warm check / one-change pass:             ${(w / p).toFixed(2)}×   target ≤ 2×`);
  console.log(`cold check in process (reads every file): ${cold.toFixed(0)} ms`);
  console.log(`cold check through the CLI:               ${cli.toFixed(0)} ms`);
  console.log(JSON.stringify({ n: N, warmCheckMs: w, warmRuns: warm, oneChangePassMs: p, ratio: w / p, coldCheckMs: cold, cliCheckMs: cli }));
} finally {
  await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  await rm(SOURCE.dir, { recursive: true, force: true });
}
