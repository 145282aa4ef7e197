// May a package's build be dispatched now, given its in-repo Build-Depends?
// Only when each in-repo relation that applies to the architecture has a
// satisfying version published in the package's buildFrom distribution; a
// dependency that failed (or cannot be built) makes it wait as DependencyFailed,
// anything else as AwaitingDependency. Pure.
import { archApplies, profilesApply, type Alternative } from '../../debian/control.ts';
import { WAIT_REASONS } from '../../schema/conditions.ts';
import type { Architecture } from '../../schema/metadata.ts';
import type { DesiredPackage, ObservedState, RebuildDependents, Waiting } from '../model.ts';
import { compareDebianVersions } from '../formats/deb/version-order.ts';
import { formatAlternative, type DependencyGraph, type InRepoAlternative } from './dependency-graph.ts';

/** Builds run with no build profile active (as the agent's dependency phase does). */
const NO_PROFILES: ReadonlySet<string> = new Set();
const applies = (a: Alternative, arch: string) => archApplies(a, arch) && profilesApply(a, NO_PROFILES);

export type DependencyWait = Omit<Waiting, 'subject'> & { failed: boolean };

/** Which packages failed in this plan so far (dependencies are planned first). */
export type FailedLookup = (pkg: string) => string | undefined;

const SATISFIES: Record<string, (c: number) => boolean> = {
  '<<': (c) => c < 0,
  '<=': (c) => c <= 0,
  '=': (c) => c === 0,
  '>=': (c) => c >= 0,
  '>>': (c) => c > 0,
};

export const satisfies = (version: string, alt: Pick<InRepoAlternative, 'version'>) => !alt.version || SATISFIES[alt.version.op](compareDebianVersions(version, alt.version.version));

export type Published = { version: string; builds: Record<string, string> };
export type PublishedLookup = (dist: string, pkg: string) => Published[];

/** distribution -> package -> what is published, indexed lazily once per plan. */
export function publishedVersions(observed: ObservedState): PublishedLookup {
  const byDist = new Map<string, Map<string, Published[]>>();
  return (dist, pkg) => {
    let m = byDist.get(dist);
    if (!m) {
      byDist.set(dist, (m = new Map()));
      for (const p of observed.releases.get(dist)?.packages ?? []) m.set(p.name, [...(m.get(p.name) ?? []), { version: p.version, builds: p.builds }]);
    }
    return m.get(pkg) ?? [];
  };
}

/**
 * What a build that may start now is built against: for each in-repo relation, the
 * newest satisfying published version of its producer, as that producer's
 * rebuildDependents policy says (its version, version@build key, or nothing).
 * Part of the build key, so a new dependency version (or build) rebuilds the dependent.
 */
export function builtAgainst(
  pkg: DesiredPackage,
  arch: Architecture,
  graph: DependencyGraph,
  published: PublishedLookup,
  policyOf: (producer: string) => RebuildDependents | undefined,
): Record<string, string> | undefined {
  const dist = pkg.buildFrom;
  if (dist === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const rel of graph.relations.get(pkg.name) ?? []) {
    let best: { producer: string; p: Published } | undefined;
    for (const a of rel.alternatives.filter((x) => applies(x, arch))) {
      for (const p of published(dist, a.producer)) {
        if (satisfies(p.version, a) && (!best || compareDebianVersions(p.version, best.p.version) > 0)) best = { producer: a.producer, p };
      }
    }
    const policy = best ? (policyOf(best.producer) ?? 'on-version-change') : 'never';
    if (!best || policy === 'never') continue;
    const key = best.p.builds[arch] ?? best.p.builds.all ?? Object.values(best.p.builds).sort()[0];
    out[best.producer] = policy === 'always' ? `${best.p.version}@${key}` : best.p.version;
  }
  return Object.keys(out).length ? out : undefined;
}

export function dependencyWait(
  pkg: DesiredPackage,
  arch: Architecture,
  graph: DependencyGraph,
  published: PublishedLookup,
  failedReason: FailedLookup,
): DependencyWait | undefined {
  const what = `${pkg.name} ${pkg.version} (${arch})`;
  const blocked = graph.blocked.get(pkg.name);
  if (blocked) {
    const reason = { duplicateBinary: WAIT_REASONS.duplicateBinary, dependencyCycle: WAIT_REASONS.dependencyCycle, badControl: WAIT_REASONS.badBuildDepends }[blocked.reason];
    return { reason, message: `${what} is not built: ${blocked.message}`, failed: true };
  }
  // Without buildFrom the build installs from the base archive only: nothing of Kiln's to wait for.
  const dist = pkg.buildFrom;
  if (dist === undefined) return undefined;
  for (const rel of graph.relations.get(pkg.name) ?? []) {
    const alts = rel.alternatives.filter((a) => applies(a, arch));
    if (alts.length === 0 || alts.some((a) => published(dist, a.producer).some((p) => satisfies(p.version, a)))) continue;
    const failed = alts.map((a) => ({ a, why: failedReason(a.producer) }));
    if (failed.every((f) => f.why !== undefined)) {
      return { reason: WAIT_REASONS.dependencyFailed, message: `${what} needs ${rel.text}, but ${failed.map((f) => `${f.a.producer} ${f.why}`).join('; ')}`, failed: true };
    }
    const a = failed.find((f) => f.why === undefined)!.a;
    const have = published(dist, a.producer).map((p) => p.version);
    const state = have.length ? `${dist} has ${a.producer} ${have.join(', ')}, which does not satisfy ${formatAlternative(a)}` : `${a.producer} is not published in ${dist} yet`;
    return { reason: WAIT_REASONS.awaitingDependency, message: `${what} waits for ${rel.text}: ${state}`, failed: false };
  }
  return undefined;
}
