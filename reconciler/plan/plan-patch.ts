// Incremental planning: the last plan kept as per-package parts (each package's builds,
// each package's part of each distribution) and patched for what changed since:
//   - packages the metadata reader says changed (desired/state-changes.ts; without that
//     record, found by comparing the two package maps),
//   - packages owning a build record that changed (record objects are compared by key; only
//     the keys the status reader says changed, status/build-changes.ts, when it recorded them),
//   - distributions whose release record (or, when promoted, whose source's record or
//     the gates) changed: their package parts are redone,
//   - always: packages whose decision depends on other packages (in-repo Build-Depends
//     built from a distribution, an image built FROM another package), on what the pass
//     observed (a base image tag's digest) or on the clock (a queued build, a retry backoff).
// kiln.yaml, the queue grace or the dependency graph changing starts afresh. The plan
// from the parts equals plan() without a memo (test/unit/plan-incremental.test.ts).
import type { ReleasedPackage, ReleaseRecord } from '../../schema/status.ts';
import type { Architecture } from '../../schema/metadata.ts';
import type { Action, BuildAction, DesiredDistribution, DesiredPackage, DesiredState, ObservedState, Waiting } from '../model.ts';
import { desiredChangesSince } from '../desired/state-changes.ts';
import { buildKeysChangedBetween } from '../status/build-changes.ts';
import { dependencyGraph, type DependencyGraph } from './dependency-graph.ts';
import { decidePackage, dependsOnOthers, emitPackage, packageContext, plannedBuilds, timeless, type BuildPlanOptions, type Decided, type PlannedBuild } from './plan-builds.ts';
import { byName, NONE, planPackage, pruneAll, readyOf, removedWhy, republishDrifted, unwantedWhy, type ReleasePlan } from './plan-releases.ts';

interface PackagePart {
  pkg: DesiredPackage;
  decided: Decided[];
  failed?: string;
  perArch: Map<Architecture, PlannedBuild>;
  actions: BuildAction[];
  waiting: Waiting[];
  /** Redone every plan (depends on other packages or on the clock). */
  volatile: boolean;
}

interface DistPart {
  dist: DesiredDistribution;
  record?: ReleaseRecord;
  /** Promoted distributions: the source's record and the gates they were planned with. */
  source?: ReleaseRecord;
  gates?: ObservedState['gates'];
  /** Wanted package -> its actions and waits here. */
  members: Map<string, ReleasePlan>;
  /** Members with any action or wait. */
  active: Set<string>;
  /** Published but no longer wanted -> their prunes. */
  unwanted: Map<string, Action[]>;
}

interface Parts {
  desired: DesiredState;
  observed: ObservedState;
  queueGraceMs: number;
  graph: DependencyGraph;
  /** Each package's place in desired.packages (waits are listed in that order). */
  ordinal: Map<string, number>;
  nextOrdinal: number;
  packages: Map<string, PackagePart>;
  /** Packages with any build action or wait. */
  active: Set<string>;
  volatile: Set<string>;
  /** Build key -> the packages whose decisions read its record. */
  owners: Map<string, Set<string>>;
  dists: Map<string, DistPart>;
}

/** What planning keeps between passes; plan() with it equals plan() without. */
export interface PlanMemo {
  parts?: Parts;
}

export const emptyPlanMemo = (): PlanMemo => ({});

const orderIndex = new WeakMap<DependencyGraph, Map<string, number>>();
function orderOf(graph: DependencyGraph): Map<string, number> {
  let m = orderIndex.get(graph);
  if (!m) orderIndex.set(graph, (m = new Map(graph.order.map((n, i) => [n, i]))));
  return m;
}

/** The fields the dependency graph is made of: a change to one of them may change the graph. */
const sameShape = (a: DesiredPackage | undefined, b: DesiredPackage | undefined) =>
  a === b ||
  (a !== undefined && b !== undefined && a.control === b.control && a.bootstrap === b.bootstrap && a.file === b.file &&
    JSON.stringify(graphFieldsOf(a)) === JSON.stringify(graphFieldsOf(b)));
const graphFieldsOf = (p: DesiredPackage) => (p.format === 'oci' ? [p.from, p.install] : undefined);

/**
 * Names changed from `last` to `desired` and those now at the end of the map; undefined when
 * the packages kept by both are not in the same relative order (then the plan starts afresh).
 */
function packageChanges(parts: Parts, desired: DesiredState): { packages: ReadonlySet<string>; appended: readonly string[] } | undefined {
  const recorded = desiredChangesSince(parts.desired, desired);
  if (recorded) return recorded;
  const packages = new Set<string>();
  const appended: string[] = [];
  let lastPlace = -1;
  for (const [name, pkg] of desired.packages) {
    const place = parts.ordinal.get(name);
    if (place === undefined || appended.length) {
      if (place !== undefined) return undefined;
      appended.push(name);
      packages.add(name);
      continue;
    }
    if (place < lastPlace) return undefined;
    lastPlace = place;
    if (parts.desired.packages.get(name) !== pkg) packages.add(name);
  }
  for (const name of parts.desired.packages.keys()) if (!desired.packages.has(name)) packages.add(name);
  return { packages, appended };
}

function freshParts(desired: DesiredState, observed: ObservedState, queueGraceMs: number): Parts {
  const graph = dependencyGraph(desired.packages);
  const ordinal = new Map<string, number>();
  for (const name of desired.packages.keys()) ordinal.set(name, ordinal.size);
  return { desired, observed, queueGraceMs, graph, ordinal, nextOrdinal: ordinal.size, packages: new Map(), active: new Set(), volatile: new Set(), owners: new Map(), dists: new Map() };
}

function forget(parts: Parts, name: string): void {
  const old = parts.packages.get(name);
  if (!old) return;
  for (const { key } of old.decided) {
    const set = parts.owners.get(key);
    set?.delete(name);
    if (set?.size === 0) parts.owners.delete(key);
  }
  parts.packages.delete(name);
  parts.active.delete(name);
  parts.volatile.delete(name);
}

/** Decide `names` again (dependencies first), returning those whose part was redone. */
function redoBuilds(parts: Parts, names: Set<string>, desired: DesiredState, observed: ObservedState, opts: BuildPlanOptions): void {
  const order = orderOf(parts.graph);
  const c = packageContext(desired, observed, opts, parts.graph, (n) => parts.packages.get(n)?.failed, (n) => parts.packages.get(n)?.decided);
  for (const name of [...names].sort((a, b) => order.get(a)! - order.get(b)!)) {
    forget(parts, name);
    const pkg = desired.packages.get(name)!;
    const { decided, failed } = decidePackage(pkg, c);
    const out = { actions: [] as BuildAction[], waiting: [] as Waiting[] };
    emitPackage(pkg, decided, out);
    const volatile = dependsOnOthers(pkg, parts.graph) || !decided.every((x) => timeless(observed.builds.get(x.key)));
    parts.packages.set(name, { pkg, decided, ...(failed !== undefined ? { failed } : {}), perArch: plannedBuilds(pkg, decided), ...out, volatile });
    for (const { key } of decided) {
      let set = parts.owners.get(key);
      if (!set) parts.owners.set(key, (set = new Set()));
      set.add(name);
    }
    if (out.actions.length || out.waiting.length) parts.active.add(name);
    if (volatile) parts.volatile.add(name);
  }
}

/** Packages owning a build record that is new, changed or gone. */
function ownersOfChangedRecords(parts: Parts, observed: ObservedState, into: Set<string>): void {
  const before = parts.observed.builds;
  if (before === observed.builds) return;
  const mark = (key: string) => {
    for (const n of parts.owners.get(key) ?? []) into.add(n);
  };
  // The status reader's change list when it has one (cost follows the change), else every record.
  const keys = buildKeysChangedBetween(before, observed.builds);
  if (keys) {
    for (const key of keys) if (before.get(key) !== observed.builds.get(key)) mark(key);
    return;
  }
  for (const [key, record] of observed.builds) if (before.get(key) !== record) mark(key);
  for (const key of before.keys()) if (!observed.builds.has(key)) mark(key);
}

function planMember(parts: Parts, part: DistPart, pkg: DesiredPackage, publishedByName: Map<string, ReleasedPackage[]>, observed: ObservedState): void {
  const mine: ReleasePlan = { actions: [], waiting: [] };
  const built = parts.packages.get(pkg.name)!;
  planPackage(part.dist, pkg, readyOf(pkg, built.perArch), publishedByName.get(pkg.name) ?? (NONE as ReleasedPackage[]), observed, mine);
  part.members.set(pkg.name, mine);
  if (mine.actions.length || mine.waiting.length) part.active.add(pkg.name);
  else part.active.delete(pkg.name);
}

/** One package's place in one distribution: a member, a published package to prune, or nothing. */
function placeIn(parts: Parts, part: DistPart, name: string, desired: DesiredState, publishedByName: Map<string, ReleasedPackage[]>, observed: ObservedState): void {
  const pkg = desired.packages.get(name);
  part.unwanted.delete(name);
  if (pkg?.release.includes(part.dist.name)) {
    planMember(parts, part, pkg, publishedByName, observed);
    return;
  }
  part.members.delete(name);
  part.active.delete(name);
  const published = publishedByName.get(name);
  if (published) part.unwanted.set(name, pruneAll(part.dist.name, published, unwantedWhy(part.dist.name, name)));
}

function patchDistribution(parts: Parts, dist: DesiredDistribution, dirty: ReadonlySet<string>, desired: DesiredState, observed: ObservedState, whole: boolean): DistPart {
  const record = observed.releases.get(dist.name);
  const source = dist.promoteFrom !== undefined ? observed.releases.get(dist.promoteFrom) : undefined;
  const gates = dist.promoteFrom !== undefined ? observed.gates : undefined;
  const last = parts.dists.get(dist.name);
  const publishedByName = byName(record?.packages ?? NONE);
  const redo = whole || !last || last.dist !== dist || last.record !== record || last.source !== source || last.gates !== gates;
  const part: DistPart = redo ? { dist, record, source, gates, members: new Map(), active: new Set(), unwanted: new Map() } : last;
  if (redo) {
    for (const pkg of desired.packages.values()) if (pkg.release.includes(dist.name)) planMember(parts, part, pkg, publishedByName, observed);
    for (const [name, published] of publishedByName) if (!part.members.has(name)) part.unwanted.set(name, pruneAll(dist.name, published, unwantedWhy(dist.name, name)));
  } else for (const name of dirty) placeIn(parts, part, name, desired, publishedByName, observed);
  parts.dists.set(dist.name, part);
  return part;
}

/** The plan's build and release actions and waits from the parts (actions unsorted). */
function collect(parts: Parts, desired: DesiredState, observed: ObservedState): { actions: Action[]; waiting: Waiting[] } {
  const byPlace = (a: string, b: string) => parts.ordinal.get(a)! - parts.ordinal.get(b)!;
  const actions: Action[] = [];
  const waiting: Waiting[] = [];
  for (const name of [...parts.active].sort(byPlace)) {
    const p = parts.packages.get(name)!;
    actions.push(...p.actions);
    waiting.push(...p.waiting);
  }
  const out: ReleasePlan = { actions, waiting };
  for (const dist of [...desired.distributions.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    const part = parts.dists.get(dist.name)!;
    for (const name of [...part.active].sort(byPlace)) {
      const m = part.members.get(name)!;
      actions.push(...m.actions);
      waiting.push(...m.waiting);
    }
    for (const prunes of part.unwanted.values()) actions.push(...prunes);
    republishDrifted(dist, observed, out);
  }
  for (const [name, record] of observed.releases) {
    if (!desired.distributions.has(name)) actions.push(...pruneAll(name, record.packages, removedWhy(name)));
  }
  return out;
}

/** The plan's actions (unsorted) and waits, with `memo` patched to the new states. */
export function patchPlan(desired: DesiredState, observed: ObservedState, opts: BuildPlanOptions, memo: PlanMemo): { actions: Action[]; waiting: Waiting[] } {
  let parts = memo.parts;
  const changes = parts && parts.desired.config === desired.config && parts.queueGraceMs === opts.queueGraceMs ? packageChanges(parts, desired) : undefined;
  let dirty: Set<string>;
  let whole = false;
  if (parts && changes) {
    for (const name of changes.packages) if (!desired.packages.has(name)) parts.ordinal.delete(name);
    for (const name of changes.appended) parts.ordinal.set(name, parts.nextOrdinal++);
    const reshaped = [...changes.packages].some((n) => !sameShape(parts!.desired.packages.get(n), desired.packages.get(n)));
    if (reshaped && dependencyGraph(desired.packages) !== parts.graph) parts = undefined;
  }
  if (!parts || !changes) {
    parts = memo.parts = freshParts(desired, observed, opts.queueGraceMs);
    dirty = new Set(desired.packages.keys());
    whole = true;
  } else {
    dirty = new Set(changes.packages);
    ownersOfChangedRecords(parts, observed, dirty);
    for (const name of parts.volatile) dirty.add(name);
    for (const name of dirty) if (!desired.packages.has(name)) forget(parts, name);
  }
  redoBuilds(parts, new Set([...dirty].filter((n) => desired.packages.has(n))), desired, observed, opts);
  for (const dist of desired.distributions.values()) patchDistribution(parts, dist, dirty, desired, observed, whole);
  for (const name of parts.dists.keys()) if (!desired.distributions.has(name)) parts.dists.delete(name);
  parts.desired = desired;
  parts.observed = observed;
  return collect(parts, desired, observed);
}
