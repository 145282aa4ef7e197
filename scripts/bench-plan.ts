// Benchmark of the planning path on generated metadata repos of 1,000 and
// 10,000 packages: cold plan, no-op pass, one-change pass (vs native
// `git diff-tree -r` on the same commits), and a status commit of 1,000 new
// build records. Prints figures and ratios; asserts nothing.
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { readDesired } from '../reconciler/desired/read-desired.ts';
import { reconcilePass, type PassMemo } from '../reconciler/pass.ts';
import { DEFAULT_POLICY, type PassDeps } from '../reconciler/pass/deps.ts';
import { keyedInputs } from '../reconciler/plan/plan-builds.ts';
import { plan } from '../reconciler/plan/plan.ts';
import { generateKey, loadSigner, type Signer } from '../reconciler/signing/signer.ts';
import { readObserved } from '../reconciler/status/reader.ts';
import { buildRecordFile } from '../reconciler/status/records.ts';
import { recordPass } from '../reconciler/status/writer.ts';
import type { BuildRecord } from '../schema/status.ts';
import { recordConverged } from '../test/helpers/converged-status.ts';
import { commitChange, generateRepo, SOURCE } from './bench-repo.ts';

const run = promisify(execFile);
const log = pino({ level: 'warn' });

async function time<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = process.hrtime.bigint();
  const value = await fn();
  return { ms: Number(process.hrtime.bigint() - t) / 1e6, value };
}

function passDeps(dir: string, signer: Signer): PassDeps {
  return { repoDir: dir, rev: 'HEAD', cache: {}, signer, log, now: () => new Date(), random: Math.random, policy: DEFAULT_POLICY, artifactsDir: join(dir, '.kiln-artifacts'), gateImage: 'kiln/bookworm-buildd' };
}

async function bench(n: number, signer: Signer) {
  const dir = await generateRepo(n);
  try {
    const cold = await time(async () => {
      const cache = {};
      const { state: desired } = await readDesired({ dir, rev: 'HEAD', cache, log });
      const { state: observed } = await readObserved({ dir, cache, log });
      return plan(desired, observed, { now: new Date() });
    });
    await recordConverged(dir, signer, log);
    const deps = passDeps(dir, signer);
    const memo: PassMemo = {};
    const warm = await time(() => reconcilePass(deps, memo)); // full pass, plans nothing → quiet
    const noop = await time(() => reconcilePass(deps, memo));
    // One-change passes: the median of five (each changes another package), with per-step times of the last.
    const oneChangeRuns: number[] = [];
    const steps: Record<string, number> = {};
    let before = '';
    let after = '';
    let oneChange!: Awaited<ReturnType<typeof time<Awaited<ReturnType<typeof reconcilePass>>>>>;
    for (let k = 0; k < 5; k++) {
      before = (await run('git', ['rev-parse', 'HEAD'], { cwd: dir })).stdout.trim();
      after = await commitChange(dir, Math.floor(n / 2) + k);
      let last = performance.now();
      deps.onStep = (step) => {
        const t = performance.now();
        steps[step] = t - last;
        last = t;
      };
      oneChange = await time(() => reconcilePass(deps, memo));
      deps.onStep = undefined;
      oneChangeRuns.push(oneChange.ms);
    }
    const median = [...oneChangeRuns].sort((a, b) => a - b)[2];
    const nativeDiff = await time(() => run('git', ['diff-tree', '-r', before, after], { cwd: dir }));
    // A status commit of 1,000 new build records on top of the n already there.
    const extra: BuildRecord[] = Array.from({ length: 1000 }, (_, i) => {
      const { key, inputs } = keyedInputs({ ...[...memo.desired!.state.packages.values()][0], version: `9.${i}-1` } as never, 'amd64');
      return { key, inputs, pool: 'deb', desiredCommit: after, state: 'queued', attempts: [{ n: 1, dispatchedAt: new Date().toISOString() }] };
    });
    const statusCommit = await time(() =>
      recordPass({ dir, cache: deps.cache, signer, log, previous: memo.observed, build: () => ({ files: new Map(extra.map(buildRecordFile)), summary: 'bench: 1000 records', trailers: { 'Kiln-Desired': after } }) }),
    );
    return {
      n,
      coldPlanMs: cold.ms,
      coldActions: cold.value.actions.length,
      fullPassMs: warm.ms,
      noopPassMs: noop.ms,
      noop: noop.value.noop,
      oneChangePassMs: median,
      oneChangeSteps: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, Math.round(v * 10) / 10])),
      oneChangeActions: oneChange.value.plan?.actions.length,
      nativeDiffTreeMs: nativeDiff.ms,
      statusCommit1000Ms: statusCommit.ms,
    };
  } finally {
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  }
}

const key = await generateKey({ name: 'Kiln Bench', email: 'bench@kiln.invalid' });
const signer = await loadSigner(key.privateKeyArmored);
const results = [];
for (const n of [1000, 10000]) {
  const r = await bench(n, signer);
  results.push(r);
  console.log(`\n== ${n} packages`);
  console.log(`cold plan (read all + plan):       ${r.coldPlanMs.toFixed(0)} ms  (${r.coldActions} actions)   target 10k ≤ 3000 ms`);
  console.log(`full pass, converged (plans 0):    ${r.fullPassMs.toFixed(0)} ms`);
  console.log(`no-op pass:                        ${r.noopPassMs.toFixed(1)} ms  (noop=${r.noop})   target ≤ 20 ms`);
  console.log(`one-change pass (median of 5):     ${r.oneChangePassMs.toFixed(1)} ms  (${r.oneChangeActions} action)   target 10k ≤ 100 ms`);
  console.log(`  steps of the last one (ms):      ${JSON.stringify(r.oneChangeSteps)}`);
  console.log(`native git diff-tree -r (same):    ${r.nativeDiffTreeMs.toFixed(1)} ms  → ratio ${(r.oneChangePassMs / r.nativeDiffTreeMs).toFixed(1)}×`);
  console.log(`status commit of 1,000 records:    ${r.statusCommit1000Ms.toFixed(0)} ms  (on top of ${r.n})   target ≤ 1000 ms`);
}
const [small, large] = results;
console.log(`\none-change pass 10k / 1k: ${(large.oneChangePassMs / small.oneChangePassMs).toFixed(2)}×   target ≤ 2× (cost follows the change, not the repo)`);
console.log(JSON.stringify(results));
await rm(SOURCE.dir, { recursive: true, force: true });
