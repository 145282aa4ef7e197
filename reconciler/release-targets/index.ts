// The release-target table: `format:` of a distribution -> its module. Adding
// a target is one entry here (and its variant of DesiredDistribution in model.ts).
import type { DesiredDistribution, DistributionFormatName } from '../model.ts';
import type { ReleaseTarget } from './target.ts';
import { aptTarget } from './apt/apt-target.ts';
import { registryTarget } from './registry/registry-target.ts';
import { dnfTarget } from './dnf/dnf-target.ts';

const TARGETS: { [K in DistributionFormatName]: ReleaseTarget<Extract<DesiredDistribution, { format: K }>> } = {
  apt: aptTarget,
  registry: registryTarget,
  dnf: dnfTarget,
};

/** Every release target, for what knows no desired state (`kiln keys renew`, `kiln serve`). */
export const RELEASE_TARGETS = Object.values(TARGETS) as ReleaseTarget[];

/** The module of a distribution's release target. */
export const releaseTarget = <D extends DesiredDistribution>(dist: D): ReleaseTarget<D> => TARGETS[dist.format] as unknown as ReleaseTarget<D>;

export type { ReleaseTarget, ReleaseUnit, LocalArtifact, ApplyRequest, ApplyReport, Observation, GateRequest, SignedRepository } from './target.ts';
