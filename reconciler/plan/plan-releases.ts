// What each distribution should publish, compared with what it does publish:
// publish ready versions, run promotion gates, prune by the keep policy. Pure.
import { REASONS, WAIT_REASONS } from '../../schema/conditions.ts';
import type { ReleasedPackage } from '../../schema/status.ts';
import { gateId, type Action, type DesiredDistribution, type DesiredPackage, type DesiredState, type ObservedState, type Waiting } from '../model.ts';
import { binaryVersion } from '../../schema/binnmu.ts';
import { packageFormat } from '../formats/index.ts';
import type { BuildPlan } from './plan-builds.ts';

export interface ReleasePlan {
  actions: Action[];
  waiting: Waiting[];
}

const sameBuilds = (a: Record<string, string>, b: Record<string, string>) => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
};

// Ready keys per planned-builds entry: a kept build fragment hands out the same entry, so its
// keys are the same object and a kept release fragment matches by identity.
const readyMemo = new WeakMap<object, { architectures: readonly string[]; keys: Record<string, string> | undefined }>();

/** arch -> key when every build of the package succeeded; undefined while any is pending or failed. */
export function readyBuilds(pkg: DesiredPackage, builds: BuildPlan['builds']): Record<string, string> | undefined {
  const perArch = builds.get(pkg.name);
  return perArch ? readyOf(pkg, perArch) : undefined;
}

/** readyBuilds for one package's entry of BuildPlan.builds. */
export function readyOf(pkg: DesiredPackage, perArch: Map<string, { key: string; state: string }>): Record<string, string> | undefined {
  const hit = readyMemo.get(perArch);
  if (hit && hit.architectures === pkg.architectures) return hit.keys;
  const keys = computeReady(pkg, perArch);
  // Only a ready set has an identity to keep; "not ready" is found again at the first pending
  // build, and a cold plan (nothing built) would otherwise add 10,000 WeakMap entries.
  if (keys) readyMemo.set(perArch, { architectures: pkg.architectures, keys });
  return keys;
}

function computeReady(pkg: DesiredPackage, perArch: Map<string, { key: string; state: string }>): Record<string, string> | undefined {
  const keys: Record<string, string> = {};
  for (const arch of pkg.architectures) {
    const b = perArch.get(arch);
    if (!b || b.state !== 'succeeded') return undefined;
    keys[arch] = b.key;
  }
  return keys;
}

/** The binaries' version when a binNMU rebuild made it differ from the declared one (the gate installs that). */
function installVersion(pkg: DesiredPackage, keys: Record<string, string>, observed: ObservedState): { installVersion?: string } {
  for (const key of Object.values(keys)) {
    const inputs = observed.builds.get(key)?.inputs;
    if (inputs?.binNMU) return { installVersion: binaryVersion(inputs) };
  }
  return {};
}

/** Gate and source checks for a distribution fed by promotion; undefined means "may publish". */
function promotionBlock(
  dist: DesiredDistribution,
  pkg: DesiredPackage,
  keys: Record<string, string>,
  observed: ObservedState,
): { action?: Action; wait?: Waiting } | undefined {
  if (!dist.promoteFrom) return undefined;
  const subject = `release ${dist.name}: ${pkg.name} ${pkg.version}`;
  const inSource = observed.releases
    .get(dist.promoteFrom)
    ?.packages.find((p) => p.name === pkg.name && p.version === pkg.version && sameBuilds(p.builds, keys));
  if (!inSource) {
    return { wait: { subject, reason: WAIT_REASONS.awaitingSource, message: `waits until ${dist.promoteFrom} publishes ${pkg.name} ${pkg.version}` } };
  }
  if (dist.gate === 'none') return undefined;
  // A verdict is about particular builds: a rebuild of the same version is gated again.
  const recorded = observed.gates.get(gateId(dist.name, pkg.name, pkg.version));
  const gate = recorded?.builds && sameBuilds(recorded.builds, keys) ? recorded : undefined;
  if (!gate) {
    return {
      action: {
        kind: 'gate',
        reason: REASONS.gateNeeded,
        message: `${pkg.name} ${pkg.version} is published in ${dist.promoteFrom}; its ${dist.gate} gate must pass before ${dist.name} takes it`,
        distribution: dist.name,
        from: dist.promoteFrom,
        package: pkg.name,
        version: pkg.version,
        builds: keys,
        ...installVersion(pkg, keys, observed),
        ...(pkg.smoke ? { smoke: pkg.smoke } : {}),
      },
    };
  }
  if (gate.verdict === 'failed') {
    return { wait: { subject, reason: WAIT_REASONS.gateFailed, message: `the ${dist.gate} gate failed: ${gate.reason ?? 'no reason recorded'}` } };
  }
  return undefined;
}

function publishAction(dist: DesiredDistribution, pkg: DesiredPackage, keys: Record<string, string>, published: ReleasedPackage[]): Action | undefined {
  const current = published.find((p) => p.version === pkg.version);
  if (current && sameBuilds(current.builds, keys)) return undefined;
  const base = { kind: 'publish' as const, distribution: dist.name, package: pkg.name, version: pkg.version, builds: keys };
  if (current) return { ...base, reason: REASONS.publishRebuilt, message: `${pkg.name} ${pkg.version} was rebuilt; ${dist.name} publishes the new build` };
  if (published.length) {
    const was = published.map((p) => p.version).join(', ');
    return { ...base, reason: REASONS.publishUpgrade, message: `${dist.name} publishes ${was}; the desired version is ${pkg.version}` };
  }
  return { ...base, reason: REASONS.publishNew, message: `${pkg.name} ${pkg.version} is built but not yet in ${dist.name}` };
}

/** Keep the desired version and the (keep - 1) newest older ones; prune the rest. */
function keepPolicyPrunes(dist: DesiredDistribution, pkg: DesiredPackage, published: ReleasedPackage[]): Action[] {
  const { compareVersions } = packageFormat(pkg);
  const others = published.filter((p) => p.version !== pkg.version);
  const older = others.filter((p) => compareVersions(p.version, pkg.version) < 0).sort((a, b) => compareVersions(b.version, a.version));
  const keptOlder = new Set(older.slice(0, dist.keep - 1).map((p) => p.version));
  return others
    .filter((p) => !keptOlder.has(p.version))
    .map((p) => ({
      kind: 'prune' as const,
      reason: REASONS.pruneOld,
      distribution: dist.name,
      package: p.name,
      version: p.version,
      message:
        compareVersions(p.version, pkg.version) > 0
          ? `${p.name} ${p.version} is newer than the desired ${pkg.version}`
          : `${dist.name} keeps ${dist.keep} version${dist.keep === 1 ? '' : 's'} of ${p.name}`,
    }));
}

export function pruneAll(dist: string, published: ReleasedPackage[], why: string): Action[] {
  return published.map((p) => ({ kind: 'prune' as const, reason: REASONS.pruneRemoved, distribution: dist, package: p.name, version: p.version, message: why }));
}

// A release record's packages by name, indexed once per record: records are immutable and a
// pass that publishes nothing keeps the same record object, so 10k packages are not regrouped.
const byNameMemo = new WeakMap<readonly ReleasedPackage[], Map<string, ReleasedPackage[]>>();

export function byName(packages: readonly ReleasedPackage[]): Map<string, ReleasedPackage[]> {
  let m = byNameMemo.get(packages);
  if (!m) {
    m = new Map();
    for (const p of packages) {
      const list = m.get(p.name);
      if (list) list.push(p);
      else m.set(p.name, [p]);
    }
    byNameMemo.set(packages, m);
  }
  return m;
}

export const NONE: readonly ReleasedPackage[] = [];

/** What the plan does about one package in one distribution. */
export function planPackage(dist: DesiredDistribution, pkg: DesiredPackage, keys: Record<string, string> | undefined, published: ReleasedPackage[], observed: ObservedState, out: ReleasePlan): void {
  if (!keys) {
    if (!published.some((p) => p.version === pkg.version)) {
      out.waiting.push({ subject: `release ${dist.name}: ${pkg.name} ${pkg.version}`, reason: WAIT_REASONS.awaitingBuild, message: 'waits for its builds' });
    }
    return;
  }
  const rejected = observed.releases.get(dist.name)?.rejected?.find((r) => r.name === pkg.name && r.version === pkg.version && sameBuilds(r.builds, keys));
  if (rejected) {
    // These very builds cannot be published (recorded with the reason); what is published stays. A rebuild is tried again.
    out.waiting.push({ subject: `release ${dist.name}: ${pkg.name} ${pkg.version}`, reason: WAIT_REASONS.publishRejected, message: rejected.reason });
    return;
  }
  const block = promotionBlock(dist, pkg, keys, observed);
  if (block) {
    if (block.action) out.actions.push(block.action);
    if (block.wait) out.waiting.push(block.wait);
    return;
  }
  const publish = publishAction(dist, pkg, keys, published);
  if (publish) out.actions.push(publish);
  out.actions.push(...keepPolicyPrunes(dist, pkg, published));
}

function planDistribution(dist: DesiredDistribution, desired: DesiredState, observed: ObservedState, builds: BuildPlan['builds'], out: ReleasePlan): void {
  const publishedByName = byName(observed.releases.get(dist.name)?.packages ?? NONE);
  const wanted = new Set<string>();
  for (const pkg of desired.packages.values()) {
    if (!pkg.release.includes(dist.name)) continue;
    wanted.add(pkg.name);
    planPackage(dist, pkg, readyBuilds(pkg, builds), publishedByName.get(pkg.name) ?? (NONE as ReleasedPackage[]), observed, out);
  }
  for (const [name, published] of publishedByName) {
    if (!wanted.has(name)) out.actions.push(...pruneAll(dist.name, published, unwantedWhy(dist.name, name)));
  }
}

export const unwantedWhy = (dist: string, name: string) => `${name} is no longer released to ${dist}`;
export const removedWhy = (dist: string) => `distribution ${dist} was removed from the desired state`;

/** A distribution whose repository on disk is not what was recorded is published again from scratch (with any other change this plan makes to it). */
export function republishDrifted(dist: DesiredDistribution, observed: ObservedState, out: ReleasePlan): void {
  const drift = observed.drift?.get(dist.name);
  if (!drift || !observed.releases.has(dist.name)) return;
  out.actions.push({ kind: 'republish', reason: REASONS.publishDrift, distribution: dist.name, message: `the published repository is not the one recorded: ${drift}` });
}

/** The specification (plan-patch.ts keeps the same answer up to date incrementally). */
export function planReleases(desired: DesiredState, observed: ObservedState, builds: BuildPlan['builds']): ReleasePlan {
  const out: ReleasePlan = { actions: [], waiting: [] };
  for (const dist of [...desired.distributions.values()].sort((a, b) => a.name.localeCompare(b.name))) {
    planDistribution(dist, desired, observed, builds, out);
    republishDrifted(dist, observed, out);
  }
  for (const [name, record] of observed.releases) {
    if (!desired.distributions.has(name)) out.actions.push(...pruneAll(name, record.packages, removedWhy(name)));
  }
  return out;
}
