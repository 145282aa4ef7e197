// The base of an image, by digest, or why the image must wait: for `from:` naming
// another oci package of the repo (a layered image), the image that package's
// current build pushed to the candidate registry; for `from: HOST/REPO:TAG`, the
// digest the registry served for the tag when this pass observed it (as a source
// ref is resolved to a commit). The resolved reference goes into the recipe
// (recipe.oci.from), so it is part of the build key and of the build record: a
// base rebuild (or a moved tag) that yields a new digest plans a rebuild of every
// image built FROM it, and an unchanged digest plans nothing. Pure.
import { WAIT_REASONS } from '../../schema/conditions.ts';
import type { Architecture } from '../../schema/metadata.ts';
import type { DesiredPackage, ObservedState } from '../model.ts';
import type { DependencyWait, FailedLookup } from './dependency-waits.ts';
import type { DependencyGraph } from './dependency-graph.ts';

/** The base package's planned build for one architecture (planned before its dependents). */
export type PlannedLookup = (pkg: string, arch: Architecture) => { key: string; state: 'succeeded' | 'pending' | 'failed' } | undefined;

export type BaseImage = { ref: string; wait?: undefined } | { ref?: undefined; wait: DependencyWait };

/** A base named by tag: the digest observed this pass, in the tag's repository. */
function taggedBase(what: string, ref: string, observed: Pick<ObservedState, 'imageTags'>): BaseImage {
  const seen = observed.imageTags?.get(ref);
  if (seen && 'digest' in seen) return { ref: `${ref.slice(0, ref.lastIndexOf(':'))}@${seen.digest}` };
  const why = seen ? seen.error : 'not looked up yet';
  return { wait: { reason: WAIT_REASONS.awaitingDependency, message: `${what} waits for its base image ${ref}: ${why}`, failed: false, ...(seen ? { until: seen.retryAt } : {}) } };
}

/** undefined: the package names no base to resolve (FROM scratch, or a base by digest). */
export function baseImage(
  pkg: DesiredPackage,
  arch: Architecture,
  graph: DependencyGraph,
  planned: PlannedLookup,
  observed: Pick<ObservedState, 'imageTags' | 'builds'>,
  failedReason: FailedLookup,
): BaseImage | undefined {
  const what = `${pkg.name} ${pkg.version} (${arch})`;
  if (pkg.format === 'oci' && pkg.from && 'tag' in pkg.from) return taggedBase(what, pkg.from.tag, observed);
  const base = graph.bases.get(pkg.name);
  if (base === undefined) return undefined;
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
  const image = observed.builds.get(build.key)?.image;
  if (!image) return { wait: { reason: WAIT_REASONS.dependencyFailed, message: `${what} is built FROM ${base}, whose build ${build.key.slice(0, 12)} recorded no image`, failed: true } };
  return { ref: `${image.repository}@${image.manifestDigest}` };
}
