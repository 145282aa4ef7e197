// Which build records differ between two versions of ObservedState.builds, as the status
// reader and writer (applyChanges) and the pass (adding collected results) made them: a side
// table keyed by the map object (like desired/state-changes.ts), so the incremental planner
// looks at the keys that changed instead of comparing every record of a 10,000-record map.
// A map made any other way (a test, the on-disk cache) has no entry: the planner compares.
// The predecessor is held weakly, so a long chain of passes never keeps old maps alive.
import type { BuildRecord } from '../../schema/status.ts';

type Builds = ReadonlyMap<string, BuildRecord>;

interface Step {
  since: WeakRef<Builds>;
  /** Keys set or deleted on `since` to make this map. */
  keys: ReadonlySet<string>;
}

const steps = new WeakMap<Builds, Step>();

/** How many recorded steps a lookup follows from either side before it gives up (a pass makes at most three). */
const MAX_STEPS = 12;

/** Called by whoever made `builds` from `since` by setting or deleting only `keys`. */
export function recordBuildChanges(builds: Builds, since: Builds, keys: Iterable<string>): void {
  if (builds !== since) steps.set(builds, { since: new WeakRef(since), keys: new Set(keys) });
}

/** `since` with `updates` set: a new map, its changes recorded. */
export function withBuilds(since: Map<string, BuildRecord>, updates: ReadonlyMap<string, BuildRecord>): Map<string, BuildRecord> {
  if (updates.size === 0) return since;
  const out = new Map(since);
  for (const [key, record] of updates) out.set(key, record);
  recordBuildChanges(out, since, updates.keys());
  return out;
}

/** The maps `from` was made from, each with the keys changed between it and `from`. */
function ancestry(from: Builds): Map<Builds, Set<string>> {
  const out = new Map<Builds, Set<string>>([[from, new Set()]]);
  let at: Builds | undefined = from;
  let keys = new Set<string>();
  for (let i = 0; i < MAX_STEPS && at; i++) {
    const step = steps.get(at);
    const since = step?.since.deref();
    if (!step || !since) break;
    keys = new Set([...keys, ...step.keys]);
    out.set(since, keys);
    at = since;
  }
  return out;
}

/**
 * A set of keys holding every key whose record differs between `before` and `after` (it may
 * hold more: compare the records), found through a common ancestor of the two; undefined when
 * none is recorded.
 */
export function buildKeysChangedBetween(before: Builds, after: Builds): ReadonlySet<string> | undefined {
  if (before === after) return new Set();
  const fromBefore = ancestry(before);
  let at: Builds | undefined = after;
  const keys = new Set<string>();
  for (let i = 0; i <= MAX_STEPS && at; i++) {
    const common = fromBefore.get(at);
    if (common) {
      for (const k of common) keys.add(k);
      return keys;
    }
    const step = steps.get(at);
    if (!step) return undefined;
    for (const k of step.keys) keys.add(k);
    at = step.since.deref();
  }
  return undefined;
}
