// Build-Depends of a Debian source package as the agent installs them: the
// relations that apply to one architecture (parsing is debian/control.ts) and
// the cache key of the image that has them installed.
import { createHash } from 'node:crypto';
import { archApplies, profilesApply, type Alternative, type Relation } from '../debian/control.ts';

export { parseBuildDepends, type Alternative, type Relation } from '../debian/control.ts';

/** Implied by every Debian build environment (dpkg-checkbuilddeps assumes it too). */
export const IMPLICIT_DEPS: ReadonlySet<string> = new Set(['build-essential']);

function format(alt: Alternative): string {
  return alt.version ? `${alt.name} (${alt.version.op} ${alt.version.version})` : alt.name;
}

/**
 * The relations that apply when building for `arch` with `profiles` active (minus
 * build-essential), each formatted the way `apt-get satisfy` and
 * `dpkg-checkbuilddeps -d` read it. Sorted and de-duplicated, so it can be hashed.
 */
export function applicableBuildDeps(relations: Relation[], arch: string, profiles: readonly string[] = []): string[] {
  const active = new Set(profiles);
  const out = new Set<string>();
  for (const rel of relations) {
    const alts = rel.filter((a) => archApplies(a, arch) && profilesApply(a, active));
    if (alts.length === 0) continue;
    if (alts.length === 1 && IMPLICIT_DEPS.has(alts[0].name)) continue;
    out.add(alts.map(format).join(' | '));
  }
  return [...out].sort();
}

/**
 * The tag of the cached image that is `baseImageId` plus `resolved` installed: each
 * package apt resolved the Build-Depends to, as `name=version sha256` (deps-image.ts).
 */
export function depsImageTag(resolved: readonly string[], baseImageId: string): string {
  const h = createHash('sha256').update(JSON.stringify({ resolved: [...resolved].sort(), base: baseImageId })).digest('hex');
  return `kiln-deps:${h}`;
}
