// Which packages a desired state changed relative to the state it was read on top of,
// as the metadata repo's tree diff found them. The incremental planner patches its
// per-package fragments with this instead of comparing every package. A side table
// keyed by the state object: DesiredState stays plain data (deepEqual, snapshots),
// and a state made any other way (a full read, a test) simply has no entry.

import type { DesiredState } from '../model.ts';

export interface DesiredChanges {
  /** The state these changes were applied to. */
  since: DesiredState;
  /** Names added, changed or removed (a rename names both). Nothing else differs: same config, same distributions. */
  packages: ReadonlySet<string>;
  /** Names now at the end of `packages` (added, or re-declared by another file), in map order; the others kept their places. */
  appended: readonly string[];
}

// `since` is held weakly: a strong reference would keep every earlier state (each with its
// package map) alive for as long as the newest one lives, a chain that grows by one each pass.
const changes = new WeakMap<DesiredState, Omit<DesiredChanges, 'since'> & { since: WeakRef<DesiredState> }>();

/** Called by the reader when it built `state` from `since` by patching only `packages`. */
export function recordDesiredChanges(state: DesiredState, c: DesiredChanges): void {
  changes.set(state, { ...c, since: new WeakRef(c.since) });
}

/** What the reader recorded for `state`: the state it was made from (while that is alive) and the changes. */
export function desiredChangesOf(state: DesiredState): DesiredChanges | undefined {
  const c = changes.get(state);
  const since = c?.since.deref();
  return c && since ? { ...c, since } : undefined;
}

const NONE: Omit<DesiredChanges, 'since'> = { packages: new Set(), appended: [] };

/** The changes from `since` to `state`, when the reader recorded them; undefined: unknown. */
export function desiredChangesSince(since: DesiredState, state: DesiredState): Omit<DesiredChanges, 'since'> | undefined {
  if (since === state) return NONE;
  const c = changes.get(state);
  return c?.since.deref() === since ? c : undefined;
}
