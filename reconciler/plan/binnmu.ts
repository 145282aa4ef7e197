// Which binNMU number a dependent's build gets (schema/binnmu.ts). A build of a
// package version that already has a succeeded build against other in-repo
// dependencies is a rebuild of unchanged source: its binaries need a higher
// version (`<version>+kilnN`) or apt would see two different files under one
// package/version/arch. N is one more than any build of that version had, and
// once dispatched it is found again by its own record (a retry keeps its N). Pure.
import canonicalize from 'canonicalize';
import type { Architecture } from '../../schema/metadata.ts';
import type { BuildInputs, BuildRecord } from '../../schema/status.ts';
import type { ObservedState } from '../model.ts';

/** package + version -> build keys (records are read from the current map: their state changes, keys do not). */
type History = Map<string, string[]>;
const historyKey = (pkg: string, version: string) => `${pkg}\n${version}`;

// Indexed once per (builds map, size): build keys are only ever added, and a plan
// needs the index only for dependents whose plain key has no record.
const memo = new WeakMap<Map<string, BuildRecord>, { size: number; history: History }>();

function history(observed: ObservedState): History {
  const hit = memo.get(observed.builds);
  if (hit && hit.size === observed.builds.size) return hit.history;
  const h: History = new Map();
  for (const [key, r] of observed.builds) {
    const k = historyKey(r.inputs.package, r.inputs.version);
    const list = h.get(k);
    if (list) list.push(key);
    else h.set(k, [key]);
  }
  memo.set(observed.builds, { size: observed.builds.size, history: h });
  return h;
}

const withoutBinNMU = ({ binNMU: _, ...rest }: BuildInputs) => canonicalize(rest);
const sameExceptBinNMU = (a: BuildInputs, b: BuildInputs) => withoutBinNMU(a) === withoutBinNMU(b);

/**
 * The binNMU number for `inputs` (built against in-repo dependencies, no binNMU yet),
 * or 0 when its binaries keep the plain version: no other build of this version
 * succeeded, or this very build (any N) was already asked for.
 */
export function binNMUFor(inputs: BuildInputs, arch: Architecture, observed: ObservedState): number {
  const keys = history(observed).get(historyKey(inputs.package, inputs.version)) ?? [];
  let mine = -1;
  let highest = 0;
  let earlier = false;
  for (const key of keys) {
    const r = observed.builds.get(key);
    if (!r) continue;
    highest = Math.max(highest, r.inputs.binNMU ?? 0);
    if (r.inputs.arch !== arch) continue;
    if (sameExceptBinNMU(r.inputs, inputs)) mine = Math.max(mine, r.inputs.binNMU ?? 0);
    else if (r.state === 'succeeded') earlier = true;
  }
  if (mine >= 0) return mine;
  return earlier ? highest + 1 : 0;
}
