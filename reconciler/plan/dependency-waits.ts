// May a package's build be dispatched now, given its in-repo Build-Depends?
// Only when each in-repo relation that applies to the architecture has a
// satisfying version published in the package's buildFrom distribution; a
// dependency that failed (or cannot be built) makes it wait as DependencyFailed,
// anything else as AwaitingDependency. Pure.
import { archApplies } from '../../debian/control.ts';
import { WAIT_REASONS } from '../../schema/conditions.ts';
import type { Architecture } from '../../schema/metadata.ts';
import type { DesiredPackage, ObservedState, Waiting } from '../model.ts';
import { compareDebianVersions } from './debian-version-order.ts';
import { formatAlternative, type DependencyGraph, type InRepoAlternative } from './dependency-graph.ts';

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

/** distribution -> package -> published versions, built once per plan. */
export function publishedVersions(observed: ObservedState): (dist: string, pkg: string) => string[] {
  const byDist = new Map<string, Map<string, string[]>>();
  return (dist, pkg) => {
    let m = byDist.get(dist);
    if (!m) {
      byDist.set(dist, (m = new Map()));
      for (const p of observed.releases.get(dist)?.packages ?? []) m.set(p.name, [...(m.get(p.name) ?? []), p.version]);
    }
    return m.get(pkg) ?? [];
  };
}

export function dependencyWait(
  pkg: DesiredPackage,
  arch: Architecture,
  graph: DependencyGraph,
  published: (dist: string, pkg: string) => string[],
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
    const alts = rel.alternatives.filter((a) => archApplies(a, arch));
    if (alts.length === 0 || alts.some((a) => published(dist, a.producer).some((v) => satisfies(v, a)))) continue;
    const failed = alts.map((a) => ({ a, why: failedReason(a.producer) }));
    if (failed.every((f) => f.why !== undefined)) {
      return { reason: WAIT_REASONS.dependencyFailed, message: `${what} needs ${rel.text}, but ${failed.map((f) => `${f.a.producer} ${f.why}`).join('; ')}`, failed: true };
    }
    const a = failed.find((f) => f.why === undefined)!.a;
    const have = published(dist, a.producer);
    const state = have.length ? `${dist} has ${a.producer} ${have.join(', ')}, which does not satisfy ${formatAlternative(a)}` : `${a.producer} is not published in ${dist} yet`;
    return { reason: WAIT_REASONS.awaitingDependency, message: `${what} waits for ${rel.text}: ${state}`, failed: false };
  }
  return undefined;
}
