// binNMU-style versions: a rebuild of an unchanged source version (because an
// in-repo dependency changed) must still give apt an upgrade, so its binaries
// carry `<version>+kiln<N>` (sbuild --make-binNMU appends `+bN` the same way,
// through a changelog entry in the build tree). Shared by the planner (which
// picks N), the agent (which writes the entry) and the publish guard (which
// expects that version in every .deb).
import type { BuildInputs } from './status.ts';

export const BINNMU_SUFFIX = '+kiln';

/** The version the build's binaries carry. */
export const binaryVersion = (inputs: Pick<BuildInputs, 'version' | 'binNMU'>): string =>
  inputs.binNMU ? `${inputs.version}${BINNMU_SUFFIX}${inputs.binNMU}` : inputs.version;

/** The changelog entry's one bullet: why this binary-only rebuild happened. */
export function binNMUReason(inputs: Pick<BuildInputs, 'builtAgainst' | 'arch'>): string {
  const against = Object.entries(inputs.builtAgainst ?? {})
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([pkg, v]) => `${pkg} ${v.split('@')[0]}`)
    .join(', ');
  return `Binary-only rebuild by Kiln for ${inputs.arch}${against ? ` against ${against}` : ''}; no source changes.`;
}
