// Which builds the desired state needs, and what to do about each given its
// record on the status branch. Pure.
import { REASONS, WAIT_REASONS } from '../../schema/conditions.ts';
import type { Architecture } from '../../schema/metadata.ts';
import type { BuildInputs, BuildRecord } from '../../schema/status.ts';
import type { BuildAction, DesiredConfig, DesiredPackage, DesiredState, ObservedState, Waiting } from '../model.ts';
import { buildInputs, buildKey } from './build-key.ts';
import { dependencyGraph } from './dependency-graph.ts';
import { builtAgainst, dependencyWait, publishedVersions } from './dependency-waits.ts';
import { binNMUFor } from './binnmu.ts';
import { baseImage } from './base-image.ts';

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
// an incremental pass over 10k packages hashes only the ones that changed.
const keyMemo = new WeakMap<DesiredPackage, Map<string, { key: string; inputs: ReturnType<typeof buildInputs> }>>();

export function keyedInputs(pkg: DesiredPackage, arch: Architecture, builtAgainst?: Record<string, string>, binNMU = 0, base?: string) {
  let perArch = keyMemo.get(pkg);
  if (!perArch) keyMemo.set(pkg, (perArch = new Map()));
  const memo = builtAgainst || base ? `${arch} ${JSON.stringify(Object.entries(builtAgainst ?? {}).sort())} ${binNMU} ${base ?? ''}` : arch;
  let hit = perArch.get(memo);
  if (!hit) {
    const inputs = buildInputs(pkg, arch, builtAgainst, binNMU, base ? { base } : {});
    hit = { key: buildKey(inputs), inputs };
    perArch.set(memo, hit);
  }
  return hit;
}

/** One architecture's build as decided from the package, the graph and its record. */
interface Decided {
  arch: Architecture;
  key: string;
  inputs: BuildInputs;
  d: Decision;
}

/**
 * A package's part of the plan, kept between passes (BuildMemo). Reused only while what it was
 * decided from is the same object: the package (the reader keeps it for an unchanged file), the
 * config, its graph entry and each build record; and only when the decision depends on nothing
 * else: no in-repo dependencies to build against, and no record whose outcome waits on the clock.
 */
interface Fragment {
  pkg: DesiredPackage;
  config: DesiredConfig;
  queueGraceMs: number;
  blocked: unknown;
  records: Array<BuildRecord | undefined>;
  decided: Decided[];
  failed?: string;
  /** Its entry of BuildPlan.builds (read-only downstream), made once. */
  perArch?: Map<Architecture, PlannedBuild>;
}

export interface BuildMemo {
  fragments: Map<string, Fragment>;
}

export const emptyBuildMemo = (): BuildMemo => ({ fragments: new Map() });

/** Decisions that may change with time alone (a queue deadline, a retry time) are never kept. */
const timeless = (r: BuildRecord | undefined) => r === undefined || r.state === 'succeeded' || (r.state === 'failed' && !r.failure?.retryable);

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

interface Decision {
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

/** A package's build actions and waits, from its decisions. */
function emit(pkg: DesiredPackage, decided: Decided[], plan: BuildPlan): void {
  for (const { arch, key, inputs, d } of decided) {
    if (d.build) {
      plan.actions.push({
        kind: 'build', key, package: pkg.name, version: pkg.version, arch, pool: pkg.pool, inputs, limits: pkg.limits,
        ...(pkg.buildFrom !== undefined ? { buildFrom: pkg.buildFrom } : {}),
        ...d.build,
      });
    }
    if (d.wait) plan.waiting.push({ subject: `build ${pkg.name}/${arch} ${key.slice(0, 12)}`, ...d.wait });
  }
}

export function planBuilds(desired: DesiredState, observed: ObservedState, opts: BuildPlanOptions, memo?: BuildMemo): BuildPlan {
  const plan: BuildPlan = { actions: [], waiting: [], builds: new Map() };
  const maxAttempts = desired.config.defaults.maxAttempts;
  const graph = dependencyGraph(desired.packages);
  const published = publishedVersions(observed);
  // Why each package cannot be built, for its dependents (dependencies are planned first).
  const failed = new Map<string, string>();
  const policyOf = (n: string) => desired.packages.get(n)?.rebuildDependents ?? desired.config.defaults.rebuildDependents;
  const decided = new Map<string, Decided[]>();
  const planned = (n: string, arch: Architecture) => {
    const x = decided.get(n)?.find((d) => d.arch === arch);
    return x && { key: x.key, state: x.d.state };
  };
  const fragments = new Map<string, Fragment>();
  for (const name of graph.order) {
    const pkg = desired.packages.get(name)!;
    const blocked = graph.blocked.get(name);
    // Independent of other packages now (a package added later may produce what this one Build-Depends on).
    const independent = (pkg.buildFrom === undefined || (graph.relations.get(name) ?? []).length === 0) && !graph.bases.has(name) && !(pkg.format === 'oci' && pkg.from && 'tag' in pkg.from);
    const kept = independent ? memo?.fragments.get(name) : undefined;
    if (kept && kept.pkg === pkg && kept.config === desired.config && kept.queueGraceMs === opts.queueGraceMs && kept.blocked === blocked && kept.decided.every((x, i) => observed.builds.get(x.key) === kept.records[i])) {
      decided.set(name, kept.decided);
      if (kept.failed !== undefined) failed.set(name, kept.failed);
      fragments.set(name, kept);
      continue;
    }
    const mine = pkg.architectures.map((arch): Decided => {
      const base = baseImage(pkg, arch, graph, planned, observed, (n) => failed.get(n));
      const wait = dependencyWait(pkg, arch, graph, published, (n) => failed.get(n)) ?? base?.wait;
      const against = wait ? undefined : builtAgainst(pkg, arch, graph, published, policyOf);
      const { key, inputs } = keyed(pkg, arch, against, observed, base?.ref);
      let d = decide(pkg, arch, key, observed.builds.get(key), maxAttempts, opts);
      if (wait && d.build) d = { state: wait.failed ? 'failed' : 'pending', wait: { reason: wait.reason, message: wait.message, ...(wait.until ? { until: wait.until } : {}) } };
      if (d.state === 'failed' && !failed.has(name)) failed.set(name, wait ? `cannot be built (${wait.reason})` : `failed to build (${d.wait?.reason ?? 'failed'})`);
      return { arch, key, inputs, d };
    });
    decided.set(name, mine);
    const records = mine.map((x) => observed.builds.get(x.key));
    if (memo && independent && records.every(timeless)) fragments.set(name, { pkg, config: desired.config, queueGraceMs: opts.queueGraceMs, blocked, records, decided: mine, failed: failed.get(name) });
  }
  if (memo) memo.fragments = fragments;
  // Emitted in desired order, so the plan reads the same as before dependencies existed.
  for (const pkg of desired.packages.values()) {
    const kept = fragments.get(pkg.name);
    if (kept?.perArch) {
      plan.builds.set(pkg.name, kept.perArch);
      emit(pkg, kept.decided, plan);
      continue;
    }
    const perArch = new Map<Architecture, PlannedBuild>();
    for (const { arch, key, d } of decided.get(pkg.name)!) perArch.set(arch, { package: pkg.name, arch, key, state: d.state });
    plan.builds.set(pkg.name, perArch);
    if (kept) kept.perArch = perArch;
    emit(pkg, decided.get(pkg.name)!, plan);
  }
  return plan;
}
