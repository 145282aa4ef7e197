// The base of a layered image (`from:` naming another oci package of the repo):
// the image its base package's current build pushed to the candidate registry,
// by digest, or why the image must wait. The resolved reference goes into the
// recipe (recipe.oci.from), so it is part of the build key and of the build
// record: a base rebuild that yields a new digest plans a rebuild of every image
// built FROM it, and an unchanged digest plans nothing. Pure.
import { WAIT_REASONS } from '../../schema/conditions.ts';
import type { Architecture } from '../../schema/metadata.ts';
import type { BuildRecord } from '../../schema/status.ts';
import type { DesiredPackage } from '../model.ts';
import type { DependencyWait, FailedLookup } from './dependency-waits.ts';
import type { DependencyGraph } from './dependency-graph.ts';

/** The base package's planned build for one architecture (planned before its dependents). */
export type PlannedLookup = (pkg: string, arch: Architecture) => { key: string; state: 'succeeded' | 'pending' | 'failed' } | undefined;

export type BaseImage = { ref: string; wait?: undefined } | { ref?: undefined; wait: DependencyWait };

/** undefined: the package is not built FROM a package of this repo. */
export function baseImage(
  pkg: DesiredPackage,
  arch: Architecture,
  graph: DependencyGraph,
  planned: PlannedLookup,
  record: (key: string) => BuildRecord | undefined,
  failedReason: FailedLookup,
): BaseImage | undefined {
  const base = graph.bases.get(pkg.name);
  if (base === undefined) return undefined;
  const what = `${pkg.name} ${pkg.version} (${arch})`;
  const build = planned(base, arch);
  if (!build) {
    return { wait: { reason: WAIT_REASONS.dependencyFailed, message: `${what} is built FROM ${base}, which is not built for ${arch}`, failed: true } };
  }
  if (build.state === 'failed') {
    return { wait: { reason: WAIT_REASONS.dependencyFailed, message: `${what} is built FROM ${base}, but ${base} ${failedReason(base) ?? 'failed to build'}`, failed: true } };
  }
  if (build.state === 'pending') {
    return { wait: { reason: WAIT_REASONS.awaitingDependency, message: `${what} waits for its base image ${base} (build ${build.key.slice(0, 12)})`, failed: false } };
  }
  const image = record(build.key)?.image;
  if (!image) return { wait: { reason: WAIT_REASONS.dependencyFailed, message: `${what} is built FROM ${base}, whose build ${build.key.slice(0, 12)} recorded no image`, failed: true } };
  return { ref: `${image.repository}@${image.manifestDigest}` };
}
