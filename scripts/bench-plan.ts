// Benchmark of the planning path on generated metadata repos of 1,000 and
// 10,000 packages: cold plan, no-op pass, one-change pass (vs native
// `git diff-tree -r` on the same commits), and a status commit of 1,000 new
// build records; with --deps-only, the planner with the in-repo dependency
// graph against the same packages without it. Prints figures and ratios; asserts nothing.
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
import type { BuildRecord, ReleaseRecord } from '../schema/status.ts';
import { emptyObserved, type DesiredPackage, type DesiredState, type ObservedState } from '../reconciler/model.ts';
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

/**
 * The planner with the in-repo dependency graph, on synthetic state (no git: this
 * isolates the graph's cost): 1,000 libraries with 9 dependents each, converged.
 * Baseline: the same 10,000 packages without debian/control (no graph edges).
 */
function benchDependencies() {
  const LIMITS = { memoryMiB: 1024, cpus: 1, pids: 512, timeoutSeconds: 600 };
  const base = (name: string, control?: DesiredPackage['control']): DesiredPackage => ({
    name, file: `packages/${name}.yaml`, version: '1.0-1', format: 'deb', architectures: ['amd64'], image: 'kiln/bookworm-debhelper', pool: 'deb', limits: LIMITS,
    release: ['testing'], rebuild: 0, buildFrom: 'testing', source: { git: 'x', url: '/src', ref: 'main', commit: 'a'.repeat(40) }, ...(control ? { control } : {}),
  });
  const packagesFor = (withDeps: boolean) => {
    const out: DesiredPackage[] = [];
    for (let i = 0; i < 1000; i++) {
      out.push(base(`lib${i}`, withDeps ? { ok: true, binaries: [`lib${i}-dev`], buildDepends: [] } : undefined));
      for (let j = 0; j < 9; j++) out.push(base(`app${i}x${j}`, withDeps ? { ok: true, binaries: [`app${i}x${j}`], buildDepends: [[{ name: `lib${i}-dev`, version: { op: '>=', version: '1.0' } }]] } : undefined));
    }
    return out;
  };
  const stateOf = (pkgs: DesiredPackage[]): DesiredState => ({
    commit: 'd'.repeat(40),
    config: { trust: { keys: [], requireSignedCommits: false }, signing: {}, pools: { deb: { architectures: ['amd64'], limits: LIMITS } }, defaults: { pool: 'deb', image: 'kiln/bookworm-debhelper', limits: LIMITS, maxAttempts: 3, keep: 2 } },
    packages: new Map(pkgs.map((p) => [p.name, p])),
    distributions: new Map([['testing', { name: 'testing', file: 'distributions/testing.yaml', format: 'apt', suite: 'testing', codename: 'testing', components: ['main'], architectures: ['amd64'], origin: 'Kiln', label: 'testing', keep: 2, gate: 'none' }]]),
  });
  /** Converge: plan, record every planned build as succeeded and published, until nothing is planned. */
  const converged = (desired: DesiredState): ObservedState => {
    const observed = emptyObserved();
    const release: ReleaseRecord = { distribution: 'testing', desiredCommit: desired.commit, packages: [] };
    observed.releases.set('testing', release);
    for (let round = 0; round < 3; round++) {
      for (const a of plan(desired, observed, { now: new Date() }).actions) {
        if (a.kind !== 'build') continue;
        observed.builds.set(a.key, { key: a.key, inputs: a.inputs, pool: 'deb', desiredCommit: desired.commit, state: 'succeeded', attempts: [{ n: 1, dispatchedAt: '2026-01-01T00:00:00Z', outcome: 'succeeded' }], artifacts: [] });
        release.packages = release.packages.filter((p) => p.name !== a.package).concat([{ name: a.package, version: a.version, builds: { amd64: a.key } }]);
      }
    }
    return observed;
  };
  const measure = (withDeps: boolean) => {
    const pkgs = packagesFor(withDeps);
    const desired = stateOf(pkgs);
    const observed = converged(desired);
    const t0 = performance.now();
    const cold = plan(stateOf(packagesFor(withDeps)), observed, { now: new Date() });
    const coldMs = performance.now() - t0;
    const runs: number[] = [];
    let actions = 0;
    for (let k = 0; k < 5; k++) {
      const changed = pkgs.map((p) => (p.name === `lib${500 + k}` ? { ...p, rebuild: 1 } : p));
      const t = performance.now();
      actions = plan(stateOf(changed), observed, { now: new Date() }).actions.length;
      runs.push(performance.now() - t);
    }
    return { coldMs, coldActions: cold.actions.length, oneChangeMs: runs.sort((a, b) => a - b)[2], oneChangeActions: actions };
  };
  return { withDeps: measure(true), baseline: measure(false) };
}

if (process.argv.includes('--deps-only')) {
  const r = benchDependencies();
  console.log(`\n== dependency graph, 10,000 packages (1,000 libraries × 9 dependents), plan only`);
  console.log(`cold plan:        ${r.withDeps.coldMs.toFixed(0)} ms (${r.withDeps.coldActions} actions) vs ${r.baseline.coldMs.toFixed(0)} ms without the graph → ${(r.withDeps.coldMs / r.baseline.coldMs).toFixed(2)}×`);
  console.log(`one-change plan:  ${r.withDeps.oneChangeMs.toFixed(1)} ms (${r.withDeps.oneChangeActions} actions) vs ${r.baseline.oneChangeMs.toFixed(1)} ms → ${(r.withDeps.oneChangeMs / r.baseline.oneChangeMs).toFixed(2)}×`);
  console.log(JSON.stringify(r));
  await rm(SOURCE.dir, { recursive: true, force: true });
  process.exit(0);
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
