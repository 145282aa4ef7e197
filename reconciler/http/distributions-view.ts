// Pure: distributions as the API shows them: what each publishes (its release
// record) and, for a promoted one, where each candidate of its source stands
// (testing → gate → stable).
import type { ApiDistribution, PromotionState } from '../../schema/api.ts';
import { gateId, type DesiredDistribution, type DesiredPackage, type ObservedState } from '../model.ts';

/** `releasedTo(pkg)`: whether the desired state releases `pkg` to this distribution (absent: every package of the source is a candidate). */
export function distributionView(d: DesiredDistribution, observed: ObservedState, releasedTo?: (pkg: string) => boolean): ApiDistribution {
  const release = observed.releases.get(d.name) ?? null;
  const out: ApiDistribution = { name: d.name, suite: d.format === 'apt' ? d.suite : d.format === 'registry' ? d.url : d.name, gate: d.gate, url: `/repos/${d.name}/`, release, promotions: [] };
  if (!d.promoteFrom) return out;
  out.promoteFrom = d.promoteFrom;
  const published = new Set((release?.packages ?? []).map((p) => `${p.name}\0${p.version}`));
  for (const p of observed.releases.get(d.promoteFrom)?.packages ?? []) {
    // Only what is meant to reach this distribution is a candidate (testing may publish more than stable takes).
    if (releasedTo && !releasedTo(p.name)) continue;
    const gate = observed.gates.get(gateId(d.name, p.name, p.version));
    const state: PromotionState = published.has(`${p.name}\0${p.version}`)
      ? 'published'
      : gate?.verdict === 'passed'
        ? 'gate-passed'
        : gate?.verdict === 'failed'
          ? 'gate-failed'
          : 'waiting-for-gate';
    out.promotions.push({ package: p.name, version: p.version, state, ...(gate ? { gate } : {}) });
  }
  return out;
}

export function distributionViews(dists: Iterable<DesiredDistribution>, observed: ObservedState, packages?: ReadonlyMap<string, DesiredPackage>): ApiDistribution[] {
  return [...dists]
    .sort((a, b) => a.name.localeCompare(b.name))
    .map((d) => distributionView(d, observed, packages ? (name) => packages.get(name)?.release.includes(d.name) ?? false : undefined));
}
