// The verdict behind `kiln/check` on a pull-request head: `kiln check`'s own
// report (trust of every commit the PR adds, validation, plan difference)
// against the reconciler's tracked branch (HEAD) and kiln/status, as one line.
import type { Logger } from 'pino';
import { checkRevision, type CheckMemo } from '../check/check-revision.ts';
import { checkSummary } from '../check/format-check.ts';
import type { SpecChecker } from '../desired/spec-check.ts';
import { resolveCommit, type GitCache } from '../git/tree.ts';
import { readObserved } from '../status/reader.ts';

export interface CheckVerdict {
  ok: boolean;
  /** One line for the status description. */
  summary: string;
  /** No verdict on the head: the check could not run (e.g. the forge did not serve the head); try again later. */
  transient?: boolean;
}

/** A pull request's head to check, with its number when the webhook said it. */
export type CheckRunner = (rev: string, pullRequest?: number) => Promise<CheckVerdict>;

/** Brings a head into the reconciler's repository (a URL repo's mirror: from refs/pull/N/head, or a ref pointing at it). */
export type HeadFetcher = (rev: string, pullRequest?: number) => Promise<void>;

export function kilnCheck(dir: string, log?: Logger, fetchHead?: HeadFetcher, checkSpec?: SpecChecker): CheckRunner {
  // The base's plan is computed once per (base, kiln/status), as `kiln check` does for a long-running caller.
  const memo: CheckMemo = {};
  return async (rev, pullRequest) => {
    const cache: GitCache = {};
    try {
      await fetchHead?.(rev, pullRequest);
    } catch (e) {
      return { ok: false, transient: true, summary: `head ${rev.slice(0, 12)} could not be fetched: ${(e as Error).message}` };
    }
    try {
      await resolveCommit(dir, rev, cache);
    } catch {
      return { ok: false, transient: true, summary: `commit ${rev.slice(0, 12)} is not in the reconciler's repository (not fetched yet?)` };
    }
    const { state } = await readObserved({ dir, cache, log });
    const report = await checkRevision({ dir, cache, rev, base: 'HEAD', observed: state, now: new Date(), memo, log, ...(checkSpec ? { checkSpec } : {}) });
    return { ok: report.ok, summary: checkSummary(report) };
  };
}
