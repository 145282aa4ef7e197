// Build results handed back unjudged: the reconciler could not read a result's
// image back because its own registry access failed (the candidate registry down,
// or refusing its credentials: pipeline/oci-result.ts isUnjudged). Nothing about
// the build is recorded, so the condition is made visible instead: in the pass
// report, as the Ready condition on kiln/status (condition.ts) and as a metric.
// A result comes back every few seconds while the cause lasts, and passes in
// between see nothing: what was seen is remembered (pure, below) until that
// result is judged or has not come back for a while, so the condition does not
// flap with the redeliveries.

/** One result handed back unjudged by a pass. */
export interface Unjudged {
  buildKey: string;
  /** Why its image could not be read (names the registry, and the credentials file when one was refused). */
  reason: string;
}

/** build key -> why it was last handed back, and when (epoch ms). */
export type UnjudgedMemo = Map<string, { reason: string; seenAt: number }>;

/** How long a result handed back is remembered without being seen again (it is redelivered every few seconds). */
export const UNJUDGED_FORGET_MS = 10 * 60_000;

/**
 * Pure: the memo after a pass that handed back `unjudged` and judged the results of `judgedKeys`,
 * and whether what it says changed (a pass that changes it must record the condition: not quiet).
 */
export function nextUnjudged(memo: UnjudgedMemo, unjudged: readonly Unjudged[], judgedKeys: Iterable<string>, nowMs: number): { memo: UnjudgedMemo; changed: boolean } {
  const next: UnjudgedMemo = new Map([...memo].filter(([, v]) => nowMs - v.seenAt < UNJUDGED_FORGET_MS));
  for (const key of judgedKeys) next.delete(key);
  for (const u of unjudged) next.set(u.buildKey, { reason: u.reason, seenAt: nowMs });
  const changed = next.size !== memo.size || [...next].some(([k, v]) => memo.get(k)?.reason !== v.reason);
  return { memo: next, changed };
}

/** Pure: the remembered results, ordered by key (stable condition messages). */
export function unjudgedList(memo: UnjudgedMemo): Unjudged[] {
  return [...memo].sort(([a], [b]) => a.localeCompare(b)).map(([buildKey, v]) => ({ buildKey, reason: v.reason }));
}
