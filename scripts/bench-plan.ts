// Benchmark of the planning path on generated metadata repos of 1,000, 10,000
// and 50,000 packages (Debian main has ≈ 35,000 sources): cold plan (vs native
// `git ls-tree -r` + `git cat-file --batch` reading the same files, and the
// process's RSS after it; CPU times of both), no-op pass, one-change pass (vs native
// `git diff-tree -r` on the same commits), and a status commit of 1,000 new
// build records; `--sizes 1000,10000` picks the sizes; with --deps-only, the planner with the in-repo dependency
// graph against the same packages without it; with 1,000 and 10,000 among the sizes, one-change passes
// of the two taking turns in fresh repos at the end; `--profile DIR` writes CPU profiles of the cold
// plan and of each one-change pass (DIR/cold-N.cpuprofile, DIR/one-change-N-K.cpuprofile).
// Prints figures and ratios; asserts nothing.
import { execFile, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
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
import { sectionProfiler } from './bench-profile.ts';

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

/**
 * CPU time (user + system) of this process's children that have exited, in ms: /proc/self/stat's
 * cutime and cstime (Linux, clock ticks of 10 ms). Undefined elsewhere.
 */
function childrenCpuMs(): number | undefined {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // from field 3 (state) on
    return (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    return undefined;
  }
}

/** Native git reading every file of the cold plan: list the tree, then every blob through one cat-file --batch. */
async function nativeRead(dir: string): Promise<number> {
  const t = performance.now();
  await new Promise<void>((resolve, reject) => {
    const ls = spawn('git', ['ls-tree', '-r', '--format=%(objectname)', 'HEAD'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    const cat = spawn('git', ['cat-file', '--batch'], { cwd: dir, stdio: ['pipe', 'pipe', 'inherit'] });
    ls.stdout.pipe(cat.stdin);
    cat.stdout.resume();
    cat.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`git cat-file exited ${code}`))));
  });
  return performance.now() - t;
}

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
const ONE_CHANGE_PASSES = 15;
const NOOP_PASSES = 5;
const STATUS_COMMITS = 3;
const quantile = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.round((xs.length - 1) * q)];
const medianOf = (xs: number[]) => quantile(xs, 0.5);
const rangeOf = (xs: number[]) => [Math.min(...xs), Math.max(...xs)];
const profileArg = process.argv.indexOf('--profile');
const profiler = sectionProfiler(profileArg > 0 ? process.argv[profileArg + 1] : undefined);

/** A prepared repo and its next one-change pass (another package changed each time), for the passes taking turns. */
interface TurnRepo {
  n: number;
  onePass(k: number): Promise<{ ms: number; cpuMs: number }>;
  dir: string;
}

async function bench(n: number, signer: Signer) {
  const dir = await generateRepo(n);
  try {
    const childCpuFrom = childrenCpuMs();
    const nativeReads = [await nativeRead(dir), await nativeRead(dir), await nativeRead(dir)].sort((a, b) => a - b);
    const childCpuTo = childrenCpuMs();
    // The two git processes' CPU time per read (the mean of the three: the clock ticks are coarse); a loaded machine inflates it far less than wall time.
    const nativeReadCpuMs = childCpuFrom !== undefined && childCpuTo !== undefined ? (childCpuTo - childCpuFrom) / 3 : undefined;
    const coldCpuFrom = process.cpuUsage();
    const coldChildCpuFrom = childrenCpuMs();
    const cold = await profiler.section(`cold-${n}`, () => time(async () => {
      const cache = {};
      const { state: desired } = await readDesired({ dir, rev: 'HEAD', cache, log });
      const { state: observed } = await readObserved({ dir, cache, log });
      return plan(desired, observed, { now: new Date() });
    }));
    const coldCpu = process.cpuUsage(coldCpuFrom);
    // Processes the cold plan ran (resolving source refs), if any, count too.
    const coldChildCpuMs = (childrenCpuMs() ?? 0) - (coldChildCpuFrom ?? 0);
    // RSS with the cold plan's state still reachable (what a reconciler holds after its first pass).
    const rssAfterCold = process.memoryUsage().rss;
    await recordConverged(dir, signer, log);
    const deps = passDeps(dir, signer);
    const memo: PassMemo = {};
    const warm = await time(() => reconcilePass(deps, memo)); // full pass, plans nothing → quiet
    // No-op passes: the median of NOOP_PASSES (the first follows the full pass's garbage, which one collection may take).
    const noopMs: number[] = [];
    let allNoop = true;
    await profiler.section(`noop-${n}`, async () => {
      for (let k = 0; k < NOOP_PASSES; k++) {
        const pass = await time(() => reconcilePass(deps, memo));
        noopMs.push(pass.ms);
        allNoop &&= pass.value.noop;
      }
    });
    // One-change passes: the median of 15 (each changes another package), with per-step times of the last. At
    // 10-25 ms a pass, one garbage collection or a wait for a core moves a median of five by half (issue 11).
    const oneChangeRuns: number[] = [];
    const oneChangeCpu: number[] = [];
    const steps: Record<string, number> = {};
    let before = '';
    let after = '';
    let oneChange!: Awaited<ReturnType<typeof time<Awaited<ReturnType<typeof reconcilePass>>>>>;
    for (let k = 0; k < ONE_CHANGE_PASSES; k++) {
      before = (await run('git', ['rev-parse', 'HEAD'], { cwd: dir })).stdout.trim();
      after = await commitChange(dir, Math.floor(n / 2) + k);
      let last = performance.now();
      deps.onStep = (step) => {
        const t = performance.now();
        steps[step] = t - last;
        last = t;
      };
      const cpu = process.cpuUsage();
      oneChange = await profiler.section(`one-change-${n}-${k}`, () => time(() => reconcilePass(deps, memo)));
      const used = process.cpuUsage(cpu);
      oneChangeCpu.push((used.user + used.system) / 1000);
      deps.onStep = undefined;
      oneChangeRuns.push(oneChange.ms);
    }
    const median = medianOf(oneChangeRuns);
    const diffs: number[] = [];
    for (let k = 0; k < 3; k++) diffs.push((await time(() => run('git', ['diff-tree', '-r', before, after], { cwd: dir }))).ms);
    const nativeDiff = { ms: diffs.sort((a, b) => a - b)[1] };
    // Status commits of 1,000 new build records each on top of the n already there: the median of
    // STATUS_COMMITS (one alone may take a major collection of the bench's whole heap).
    const statusCommits: number[] = [];
    let previous = memo.observed;
    for (let k = 0; k < STATUS_COMMITS; k++) {
      const extra: BuildRecord[] = Array.from({ length: 1000 }, (_, i) => {
        const { key, inputs } = keyedInputs({ ...[...memo.desired!.state.packages.values()][0], version: `9.${k}.${i}-1` } as never, 'amd64');
        return { key, inputs, pool: 'deb', desiredCommit: after, state: 'queued', attempts: [{ n: 1, dispatchedAt: new Date().toISOString() }] };
      });
      const committed = await profiler.section(`status-commit-${n}-${k}`, () => time(() =>
        recordPass({ dir, cache: deps.cache, signer, log, previous, build: () => ({ files: new Map(extra.map(buildRecordFile)), summary: 'bench: 1000 records', trailers: { 'Kiln-Desired': after } }) }),
      ));
      previous = committed.value?.snapshot ?? previous;
      statusCommits.push(committed.ms);
    }
    return {
      n,
      coldPlanMs: cold.ms,
      coldPlanCpuMs: (coldCpu.user + coldCpu.system) / 1000 + coldChildCpuMs,
      coldChildCpuMs,
      coldActions: cold.value.actions.length,
      nativeReadMs: nativeReads[1],
      nativeReadCpuMs,
      rssAfterColdMiB: mib(rssAfterCold),
      fullPassMs: warm.ms,
      noopPassMs: medianOf(noopMs),
      noopPassRangeMs: rangeOf(noopMs),
      noop: allNoop,
      oneChangePassMs: median,
      oneChangeCpuMs: medianOf(oneChangeCpu),
      oneChangeQuartiles: [quantile(oneChangeRuns, 0.25), quantile(oneChangeRuns, 0.75)],
      oneChangeSteps: Object.fromEntries(Object.entries(steps).map(([k, v]) => [k, Math.round(v * 10) / 10])),
      oneChangeActions: oneChange.value.plan?.actions.length,
      nativeDiffTreeMs: nativeDiff.ms,
      statusCommit1000Ms: medianOf(statusCommits),
      statusCommit1000RangeMs: rangeOf(statusCommits),
    };
  } finally {
    await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  }
}

/** A fresh converged repo of n packages after its full and no-op passes, ready for one-change passes. */
async function readyRepo(n: number, signer: Signer): Promise<TurnRepo> {
  const dir = await generateRepo(n);
  await recordConverged(dir, signer, log);
  const deps = passDeps(dir, signer);
  const memo: PassMemo = {};
  await reconcilePass(deps, memo);
  await reconcilePass(deps, memo);
  return {
    n,
    dir,
    async onePass(k) {
      await commitChange(dir, Math.floor(n / 2) + k);
      const cpu = process.cpuUsage();
      const { ms } = await time(() => reconcilePass(deps, memo));
      const used = process.cpuUsage(cpu);
      return { ms, cpuMs: (used.user + used.system) / 1000 };
    },
  };
}

/**
 * One-change passes at 1,000 and 10,000 packages taking turns in this process, on fresh repos
 * after the other measures (whose RSS figures they would change): both sides see the same load
 * over the same seconds, so the ratio of their medians drifts less with the machine's load than
 * that of passes run a minute apart. Both repos' states are in the heap meanwhile.
 */
async function takingTurns(small: TurnRepo, large: TurnRepo) {
  const ms: Record<number, number[]> = { [small.n]: [], [large.n]: [] };
  const cpu: Record<number, number[]> = { [small.n]: [], [large.n]: [] };
  for (let k = 0; k < ONE_CHANGE_PASSES; k++) {
    for (const side of k % 2 ? [small, large] : [large, small]) {
      const r = await side.onePass(k);
      ms[side.n].push(r.ms);
      cpu[side.n].push(r.cpuMs);
    }
  }
  return {
    wall: medianOf(ms[large.n]) / medianOf(ms[small.n]),
    cpu: medianOf(cpu[large.n]) / medianOf(cpu[small.n]),
    smallMs: medianOf(ms[small.n]),
    largeMs: medianOf(ms[large.n]),
    smallCpuMs: medianOf(cpu[small.n]),
    largeCpuMs: medianOf(cpu[large.n]),
  };
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
    // A new library version published: its 9 dependents are rebuilt as binNMUs (the build history index is read).
    const versionRuns: number[] = [];
    let binNMUs = 0;
    for (let k = 0; k < 5; k++) {
      const lib = `lib${600 + k}`;
      const changed = pkgs.map((p) => (p.name === lib ? { ...p, version: '1.1-1' } : p));
      const desiredNow = stateOf(changed);
      const libBuild = plan(desiredNow, observed, { now: new Date() }).actions.find((a) => a.kind === 'build' && a.package === lib);
      const obs: ObservedState = { ...observed, builds: new Map(observed.builds), releases: new Map(observed.releases) };
      if (libBuild?.kind === 'build') {
        obs.builds.set(libBuild.key, { key: libBuild.key, inputs: libBuild.inputs, pool: 'deb', desiredCommit: desired.commit, state: 'succeeded', attempts: [{ n: 1, dispatchedAt: '2026-01-01T00:00:00Z', outcome: 'succeeded' }], artifacts: [] });
        const rel = obs.releases.get('testing')!;
        obs.releases.set('testing', { ...rel, packages: rel.packages.map((p) => (p.name === lib ? { ...p, version: '1.1-1', builds: { amd64: libBuild.key } } : p)) });
      }
      const t = performance.now();
      binNMUs = plan(desiredNow, obs, { now: new Date() }).actions.filter((a) => a.kind === 'build' && a.inputs.binNMU).length;
      versionRuns.push(performance.now() - t);
    }
    return { coldMs, coldActions: cold.actions.length, oneChangeMs: runs.sort((a, b) => a - b)[2], oneChangeActions: actions, newVersionMs: versionRuns.sort((a, b) => a - b)[2], newVersionBinNMUs: binNMUs };
  };
  return { withDeps: measure(true), baseline: measure(false) };
}

if (process.argv.includes('--deps-only')) {
  const r = benchDependencies();
  console.log(`\n== dependency graph, 10,000 packages (1,000 libraries × 9 dependents), plan only`);
  console.log(`cold plan:        ${r.withDeps.coldMs.toFixed(0)} ms (${r.withDeps.coldActions} actions) vs ${r.baseline.coldMs.toFixed(0)} ms without the graph → ${(r.withDeps.coldMs / r.baseline.coldMs).toFixed(2)}×`);
  console.log(`one-change plan:  ${r.withDeps.oneChangeMs.toFixed(1)} ms (${r.withDeps.oneChangeActions} actions) vs ${r.baseline.oneChangeMs.toFixed(1)} ms → ${(r.withDeps.oneChangeMs / r.baseline.oneChangeMs).toFixed(2)}×`);
  console.log(`new library version (plan, median of 5): ${r.withDeps.newVersionMs.toFixed(1)} ms (${r.withDeps.newVersionBinNMUs} binNMU rebuilds) → ${(r.withDeps.newVersionMs / r.baseline.oneChangeMs).toFixed(2)}× the one-change plan without the graph`);
  console.log(JSON.stringify(r));
  await rm(SOURCE.dir, { recursive: true, force: true });
  process.exit(0);
}

const key = await generateKey({ name: 'Kiln Bench', email: 'bench@kiln.invalid' });
const signer = await loadSigner(key.privateKeyArmored);
const sizesArg = process.argv.indexOf('--sizes');
const sizes = sizesArg > 0 ? process.argv[sizesArg + 1].split(',').map(Number) : [1000, 10000, 50000];
const targets: Record<number, { coldMs: number; oneChangeMs: number }> = { 10000: { coldMs: 3000, oneChangeMs: 100 }, 50000: { coldMs: 15000, oneChangeMs: 150 } };
const results = [];
for (const n of sizes) {
  const r = await bench(n, signer);
  results.push(r);
  console.log(`\n== ${n} packages`);
  const target = targets[n];
  console.log(`cold plan (read all + plan):       ${r.coldPlanMs.toFixed(0)} ms  (${r.coldActions} actions)${target ? `   target ≤ ${target.coldMs} ms` : ''}`);
  console.log(`  its CPU time:                    ${r.coldPlanCpuMs.toFixed(0)} ms  (this process's threads${r.coldChildCpuMs ? ` and ${r.coldChildCpuMs} ms of processes it ran` : ''}; wall time also waits for a core under load)`);
  console.log(`native ls-tree -r + cat-file --batch (median of 3): ${r.nativeReadMs.toFixed(1)} ms  → ratio ${(r.coldPlanMs / r.nativeReadMs).toFixed(1)}×   target 10k ≤ 4×`);
  if (r.nativeReadCpuMs) console.log(`  its CPU time (git processes, mean of 3): ${r.nativeReadCpuMs.toFixed(0)} ms  → cold plan CPU / native CPU ${(r.coldPlanCpuMs / r.nativeReadCpuMs).toFixed(1)}×`);
  console.log(`RSS after the cold plan:           ${r.rssAfterColdMiB} MiB${n === 50000 ? '   target ≤ 1024 MiB' : ''}`);
  console.log(`full pass, converged (plans 0):    ${r.fullPassMs.toFixed(0)} ms`);
  console.log(`no-op pass (median of ${NOOP_PASSES}):          ${r.noopPassMs.toFixed(1)} ms  (${r.noopPassRangeMs.map((x) => x.toFixed(1)).join('–')} ms; noop=${r.noop})   target ≤ 20 ms`);
  console.log(`one-change pass (median of ${ONE_CHANGE_PASSES}):    ${r.oneChangePassMs.toFixed(1)} ms  (quartiles ${r.oneChangeQuartiles.map((q) => q.toFixed(1)).join('–')} ms; ${r.oneChangeActions} action)${target ? `   target ≤ ${target.oneChangeMs} ms` : ''}`);
  console.log(`  its CPU time (median of ${ONE_CHANGE_PASSES}):     ${r.oneChangeCpuMs.toFixed(1)} ms  (under load, wall time waits for a core)`);
  console.log(`  steps of the last one (ms):      ${JSON.stringify(r.oneChangeSteps)}`);
  console.log(`native git diff-tree -r (median 3): ${r.nativeDiffTreeMs.toFixed(1)} ms  → ratio ${(r.oneChangePassMs / r.nativeDiffTreeMs).toFixed(1)}×   target ≤ 2×`);
  console.log(`status commit of 1,000 records (median of ${STATUS_COMMITS}): ${r.statusCommit1000Ms.toFixed(0)} ms  (${r.statusCommit1000RangeMs.map((x) => x.toFixed(0)).join('–')} ms; on top of ${r.n})   target ≤ 1000 ms`);
}
const small = results.find((r) => r.n === 1000);
const large = results.find((r) => r.n === 10000);
if (small && large) console.log(`\none-change pass 10k / 1k: ${(large.oneChangePassMs / small.oneChangePassMs).toFixed(2)}× (CPU time ${(large.oneChangeCpuMs / small.oneChangeCpuMs).toFixed(2)}×)   target ≤ 1.5× (cost follows the change, not the repo)`);
const pair = small && large ? [await readyRepo(1000, signer), await readyRepo(10000, signer)] : [];
const turns = pair.length ? await takingTurns(pair[0], pair[1]) : undefined;
if (turns) {
  console.log(`  the same, the two taking turns (medians of ${ONE_CHANGE_PASSES}): ${turns.wall.toFixed(2)}× (CPU time ${turns.cpu.toFixed(2)}×; 1k ${turns.smallMs.toFixed(1)} ms, CPU ${turns.smallCpuMs.toFixed(1)} ms; 10k ${turns.largeMs.toFixed(1)} ms, CPU ${turns.largeCpuMs.toFixed(1)} ms)`);
}
for (const k of pair) await rm(k.dir, { recursive: true, force: true, maxRetries: 5 });
console.log(JSON.stringify({ results, turns }));
await rm(SOURCE.dir, { recursive: true, force: true });
