// Pure: one progress line per reconcile pass, for `kiln reconcile --watch`.
import type { ObservedState } from '../model.ts';

export interface BuildCounts {
  queued: number;
  succeeded: number;
  failed: number;
  /** Failed but retryable: another attempt will come. */
  retrying: number;
}

export function buildCounts(observed: ObservedState | undefined): BuildCounts {
  const c: BuildCounts = { queued: 0, succeeded: 0, failed: 0, retrying: 0 };
  for (const r of observed?.builds.values() ?? []) {
    if (r.state === 'queued') c.queued++;
    else if (r.state === 'succeeded') c.succeeded++;
    else if (r.failure?.retryable) c.retrying++;
    else c.failed++;
  }
  return c;
}

export interface PassLine {
  n: number;
  reason: string;
  noop: boolean;
  desiredCommit: string;
  statusCommit: string | null;
  dispatched: number;
  duplicates: number;
  results: number;
  published: string[];
  ms: number;
}

export function formatPassLine(p: PassLine, counts: BuildCounts): string {
  const head = `pass ${p.n} (${p.reason}) desired ${p.desiredCommit.slice(0, 12)}`;
  const tally = `builds: ${counts.queued} queued/running, ${counts.succeeded} done, ${counts.failed} failed${counts.retrying ? `, ${counts.retrying} retrying` : ''}`;
  if (p.noop) return `${head}: nothing to do; ${tally} (${p.ms} ms)`;
  const did = [
    p.dispatched ? `dispatched ${p.dispatched}` : '',
    p.duplicates ? `${p.duplicates} already queued` : '',
    p.results ? `collected ${p.results} result(s)` : '',
    p.published.length ? `published ${p.published.join(', ')}` : '',
    p.statusCommit ? `status ${p.statusCommit.slice(0, 12)}` : 'status unchanged',
  ].filter(Boolean);
  return `${head}: ${did.join(', ')}; ${tally} (${p.ms} ms)`;
}
