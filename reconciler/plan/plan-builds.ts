// Which builds the desired state needs, and what to do about each given its
// record on the status branch. Pure.
import { REASONS, WAIT_REASONS } from '../../schema/conditions.ts';
import type { Architecture } from '../../schema/metadata.ts';
import type { BuildInputs, BuildRecord } from '../../schema/status.ts';
import type { BuildAction, DesiredPackage, DesiredState, ObservedState, RebuildDependents, Waiting } from '../model.ts';
import { buildInputs, buildKey } from './build-key.ts';
import { dependencyGraph, type DependencyGraph } from './dependency-graph.ts';
import { builtAgainst, dependencyWait, publishedVersions, type PublishedLookup } from './dependency-waits.ts';
import { binNMUFor } from './binnmu.ts';
import { baseImage, type PlannedLookup } from './base-image.ts';

export interface BuildPlanOptions {
  now: Date;
  /** How long a queued build may stay without any result before it is dispatched again, on top of its time limit. */
  queueGraceMs: number;
}

export interface PlannedBuild {
  package: string;
  arch: Architecture;
  key: string;
  state: 'succeeded' | 'pending' | 'failed';
}

export interface BuildPlan {
  actions: BuildAction[];
  waiting: Waiting[];
  /** package name -> arch -> planned build. */
  builds: Map<string, Map<Architecture, PlannedBuild>>;
}

// Build keys are pure functions of a package entry: memoise per entry object so
// an incremental pass over 10k packages hashes only the ones that changed. A package's first
// key is kept without a Map (most packages have one: one architecture, one set of inputs).
type KeyHit = { key: string; inputs: ReturnType<typeof buildInputs> };
type KeyMemo = { memo: string; hit: KeyHit; more?: Map<string, KeyHit> };
const keyMemo = new WeakMap<DesiredPackage, KeyMemo>();

export function keyedInputs(pkg: DesiredPackage, arch: Architecture, builtAgainst?: Record<string, string>, binNMU = 0, base?: string): KeyHit {
  const memo = builtAgainst || base ? `${arch} ${JSON.stringify(Object.entries(builtAgainst ?? {}).sort())} ${binNMU} ${base ?? ''}` : arch;
  const known = keyMemo.get(pkg);
  const found = known?.memo === memo ? known.hit : known?.more?.get(memo);
  if (found) return found;
  const inputs = buildInputs(pkg, arch, builtAgainst, binNMU, base ? { base } : {});
  const hit = { key: buildKey(inputs), inputs };
  if (!known) keyMemo.set(pkg, { memo, hit });
  else (known.more ??= new Map()).set(memo, hit);
  return hit;
}

/** One architecture's build as decided from the package, the graph and its record. */
export interface Decided {
  arch: Architecture;
  key: string;
  inputs: BuildInputs;
  d: Decision;
}

/** Decisions that may change with time alone (a queue deadline, a retry time): an incremental plan redoes them every time. */
export const timeless = (r: BuildRecord | undefined) => r === undefined || r.state === 'succeeded' || (r.state === 'failed' && !r.failure?.retryable);

/**
 * The key and inputs of a build: built against in-repo dependencies (and FROM a base image), a
 * rebuild of a Debian version that already has binaries gets a binNMU number (plan/binnmu.ts),
 * found only when the plain key has no record. An image needs none: its tags follow the build.
 */
function keyed(pkg: DesiredPackage, arch: Architecture, against: Record<string, string> | undefined, observed: ObservedState, base?: string) {
  const plain = keyedInputs(pkg, arch, against, 0, base);
  if (!against || pkg.format === 'oci' || observed.builds.has(plain.key)) return plain;
  const n = binNMUFor(plain.inputs, arch, observed);
  return n > 0 ? keyedInputs(pkg, arch, against, n) : plain;
}

export interface Decision {
  state: PlannedBuild['state'];
  build?: Pick<BuildAction, 'attempt' | 'reason' | 'message'>;
  wait?: Omit<Waiting, 'subject'>;
}

const lastAttempt = (r: BuildRecord) => r.attempts[r.attempts.length - 1];

function decide(
  pkg: DesiredPackage,
  arch: Architecture,
  key: string,
  record: BuildRecord | undefined,
  maxAttempts: number,
  opts: BuildPlanOptions,
): Decision {
  const what = `${pkg.name} ${pkg.version} (${arch})`;
  if (!record) {
    return { state: 'pending', build: { attempt: 1, reason: REASONS.buildNew, message: `${what} has never been built with these inputs` } };
  }
  // Attempts before the last `kiln retry` do not count against the limit.
  const attempts = record.attempts.length;
  const counted = record.attempts.filter((a) => a.n > (record.retryBase ?? 0)).length;
  if (record.state === 'succeeded') return { state: 'succeeded' };
  if (record.state === 'queued') {
    const last = lastAttempt(record);
    const deadline = last ? Date.parse(last.dispatchedAt) + pkg.limits.timeoutSeconds * 1000 + opts.queueGraceMs : 0;
    if (opts.now.getTime() < deadline) {
      return { state: 'pending', wait: { reason: WAIT_REASONS.building, message: `${what} is queued or building (attempt ${attempts} of ${maxAttempts})`, until: new Date(deadline).toISOString() } };
    }
    if (counted < maxAttempts) {
      return {
        state: 'pending',
        build: { attempt: attempts + 1, reason: REASONS.buildRequeue, message: `${what} got no result since ${last?.dispatchedAt}; dispatching attempt ${attempts + 1} of ${maxAttempts}` },
      };
    }
    return { state: 'failed', wait: { reason: WAIT_REASONS.gaveUp, message: `${what} got no result after ${attempts} attempts` } };
  }
  // failed
  const failure = record.failure;
  if (failure?.retryable && counted < maxAttempts) {
    const retryAt = record.retryAt ? Date.parse(record.retryAt) : 0;
    if (opts.now.getTime() >= retryAt) {
      return {
        state: 'pending',
        build: { attempt: attempts + 1, reason: REASONS.buildRetry, message: `${what} failed (${failure.reason}); attempt ${attempts + 1} of ${maxAttempts}` },
      };
    }
    return { state: 'pending', wait: { reason: WAIT_REASONS.retryBackoff, message: `${what} failed (${failure.reason}); retrying at ${record.retryAt}`, until: new Date(retryAt).toISOString() } };
  }
  return { state: 'failed', wait: { reason: WAIT_REASONS.failed, message: `${what} failed: ${failure?.reason ?? 'unknown reason'}` } };
}

/** What deciding one package needs besides the package: the graph, what is published, what failed before it. */
export interface PackageContext {
  graph: DependencyGraph;
  published: PublishedLookup;
  /** Why a dependency cannot be built (dependencies are decided first). */
  failed: (name: string) => string | undefined;
  /** A base package's decided build (bases are decided before the images built FROM them). */
  planned: PlannedLookup;
  policyOf: (name: string) => RebuildDependents | undefined;
  observed: ObservedState;
  opts: BuildPlanOptions;
  maxAttempts: number;
}

export function packageContext(
  desired: DesiredState,
  observed: ObservedState,
  opts: BuildPlanOptions,
  graph: DependencyGraph,
  failed: (name: string) => string | undefined,
  decidedOf: (name: string) => Decided[] | undefined,
): PackageContext {
  const policyOf = (n: string) => desired.packages.get(n)?.rebuildDependents ?? desired.config.defaults.rebuildDependents;
  const planned: PlannedLookup = (n, arch) => {
    const x = decidedOf(n)?.find((d) => d.arch === arch);
    return x && { key: x.key, state: x.d.state };
  };
  return { graph, published: publishedVersions(observed), failed, planned, policyOf, observed, opts, maxAttempts: desired.config.defaults.maxAttempts };
}

/** Decided from other packages' builds or from what a pass observed (a base image's digest): an incremental plan redoes it every time. */
export function dependsOnOthers(pkg: DesiredPackage, graph: DependencyGraph): boolean {
  return (pkg.buildFrom !== undefined && (graph.relations.get(pkg.name) ?? []).length > 0) || graph.bases.has(pkg.name) || (pkg.format === 'oci' && pkg.from !== undefined && 'tag' in pkg.from);
}

/** One package's builds, one per architecture; `failed` says why it cannot be built, for its dependents. */
export function decidePackage(pkg: DesiredPackage, c: PackageContext): { decided: Decided[]; failed?: string } {
  let failed: string | undefined;
  const decided = pkg.architectures.map((arch): Decided => {
    const base = baseImage(pkg, arch, c.graph, c.planned, c.observed, c.failed);
    const wait = dependencyWait(pkg, arch, c.graph, c.published, c.failed) ?? base?.wait;
    const against = wait ? undefined : builtAgainst(pkg, arch, c.graph, c.published, c.policyOf);
    const { key, inputs } = keyed(pkg, arch, against, c.observed, base?.ref);
    let d = decide(pkg, arch, key, c.observed.builds.get(key), c.maxAttempts, c.opts);
    if (wait && d.build) d = { state: wait.failed ? 'failed' : 'pending', wait: { reason: wait.reason, message: wait.message, ...(wait.until ? { until: wait.until } : {}) } };
    if (d.state === 'failed' && failed === undefined) failed = wait ? `cannot be built (${wait.reason})` : `failed to build (${d.wait?.reason ?? 'failed'})`;
    return { arch, key, inputs, d };
  });
  return failed === undefined ? { decided } : { decided, failed };
}

/** A package's build actions and waits, from its decisions. */
export function emitPackage(pkg: DesiredPackage, decided: Decided[], out: { actions: BuildAction[]; waiting: Waiting[] }): void {
  for (const { arch, key, inputs, d } of decided) {
    const b = d.build;
    if (b) {
      // Built in place, not with conditional spreads (a temporary object and a slow copy per build
      // of a cold plan); the keys in the order the spreads gave them.
      const action = { kind: 'build', key, package: pkg.name, version: pkg.version, arch, pool: pkg.pool, inputs, limits: pkg.limits } as BuildAction;
      if (pkg.buildFrom !== undefined) action.buildFrom = pkg.buildFrom;
      action.attempt = b.attempt;
      action.reason = b.reason;
      action.message = b.message;
      out.actions.push(action);
    }
    if (d.wait) out.waiting.push({ subject: `build ${pkg.name}/${arch} ${key.slice(0, 12)}`, ...d.wait });
  }
}

/** A package's entry of BuildPlan.builds. */
export function plannedBuilds(pkg: DesiredPackage, decided: Decided[]): Map<Architecture, PlannedBuild> {
  const perArch = new Map<Architecture, PlannedBuild>();
  for (const { arch, key, d } of decided) perArch.set(arch, { package: pkg.name, arch, key, state: d.state });
  return perArch;
}

/** The specification (plan-patch.ts keeps the same answer up to date incrementally). */
export function planBuilds(desired: DesiredState, observed: ObservedState, opts: BuildPlanOptions): BuildPlan {
  const plan: BuildPlan = { actions: [], waiting: [], builds: new Map() };
  const graph = dependencyGraph(desired.packages);
  // Why each package cannot be built, for its dependents (dependencies are planned first).
  const failed = new Map<string, string>();
  const decided = new Map<string, Decided[]>();
  const c = packageContext(desired, observed, opts, graph, (n) => failed.get(n), (n) => decided.get(n));
  for (const name of graph.order) {
    const mine = decidePackage(desired.packages.get(name)!, c);
    decided.set(name, mine.decided);
    if (mine.failed !== undefined) failed.set(name, mine.failed);
  }
  // Emitted in desired order, so the plan reads the same as before dependencies existed.
  for (const pkg of desired.packages.values()) {
    plan.builds.set(pkg.name, plannedBuilds(pkg, decided.get(pkg.name)!));
    emitPackage(pkg, decided.get(pkg.name)!, plan);
  }
  return plan;
}
