// The verdict behind `kiln/check` on a pull-request head: `kiln check`'s own
// report (trust of every commit the PR adds, validation, plan difference)
// against the reconciler's tracked branch (HEAD) and kiln/status, as one line.
import type { Logger } from 'pino';
import { checkRevision, type CheckMemo } from '../check/check-revision.ts';
import { checkSummary } from '../check/format-check.ts';
import { resolveCommit, type GitCache } from '../git/tree.ts';
import { readObserved } from '../status/reader.ts';

export interface CheckVerdict {
  ok: boolean;
  /** One line for the status description. */
  summary: string;
}

export type CheckRunner = (rev: string) => Promise<CheckVerdict>;

export function kilnCheck(dir: string, log?: Logger): CheckRunner {
  // The base's plan is computed once per (base, kiln/status), as `kiln check` does for a long-running caller.
  const memo: CheckMemo = {};
  return async (rev) => {
    const cache: GitCache = {};
    try {
      await resolveCommit(dir, rev, cache);
    } catch {
      return { ok: false, summary: `commit ${rev.slice(0, 12)} is not in the reconciler's repository (not fetched yet?)` };
    }
    const { state } = await readObserved({ dir, cache, log });
    const report = await checkRevision({ dir, cache, rev, base: 'HEAD', observed: state, now: new Date(), memo, log });
    return { ok: report.ok, summary: checkSummary(report) };
  };
}
