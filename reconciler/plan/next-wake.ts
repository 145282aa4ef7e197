// Pure: the earliest time at which a wait in the plan ends by itself (a retry's
// backoff, a queued build's grace), so the watch loop wakes then rather than on
// its next interval.
import type { Plan } from '../model.ts';

export function earliestWake(plan: Plan | undefined): number | undefined {
  let first: number | undefined;
  for (const w of plan?.waiting ?? []) {
    if (!w.until) continue;
    const t = Date.parse(w.until);
    if (Number.isFinite(t) && (first === undefined || t < first)) first = t;
  }
  return first;
}
