// Pure: build records as the API and dashboard show them (newest first, with
// "running" from the agents' reports), and filtering + cursor paging over them.
import type { BuildState, BuildSummary, BuildsQuery } from '../../schema/api.ts';
import type { BuildRecord } from '../../schema/status.ts';

export class BadParameterError extends Error {
  constructor(readonly parameter: string, message: string) {
    super(message);
  }
}

/** The sort key: latest dispatch time, newest first; key breaks ties. */
function dispatchedAt(r: BuildRecord): string {
  return r.attempts[r.attempts.length - 1]?.dispatchedAt ?? '';
}

export function sortNewestFirst(records: Iterable<BuildRecord>): BuildRecord[] {
  return [...records].sort((a, b) => {
    const ta = dispatchedAt(a), tb = dispatchedAt(b);
    return ta < tb ? 1 : ta > tb ? -1 : a.key.localeCompare(b.key);
  });
}

const seconds = (from?: string, to?: string | number) => {
  const a = from ? Date.parse(from) : NaN;
  const b = typeof to === 'number' ? to : to ? Date.parse(to) : NaN;
  return Number.isFinite(a) && Number.isFinite(b) ? Math.max(0, Math.round((b - a) / 100) / 10) : undefined;
};

/** `runningOn`: the agent that reports running this build now, if any. */
export function summarize(r: BuildRecord, runningOn: string | undefined, nowMs: number): BuildSummary {
  const last = r.attempts[r.attempts.length - 1];
  const state: BuildState = r.state === 'queued' && runningOn ? 'running' : r.state;
  const duration = state === 'running' ? seconds(last?.startedAt ?? last?.dispatchedAt, nowMs) : seconds(last?.startedAt, last?.finishedAt);
  const s: BuildSummary = {
    key: r.key,
    package: r.inputs.package,
    version: r.inputs.version,
    arch: r.inputs.arch,
    pool: r.pool,
    state,
    attempt: last?.n ?? 0,
    desiredCommit: r.desiredCommit,
    artifacts: (r.artifacts ?? []).map((a) => a.name),
  };
  const agent = runningOn ?? last?.agent;
  if (agent) s.agent = agent;
  if (last?.dispatchedAt) s.dispatchedAt = last.dispatchedAt;
  if (last?.startedAt) s.startedAt = last.startedAt;
  if (last?.finishedAt) s.finishedAt = last.finishedAt;
  if (duration !== undefined) s.durationSeconds = duration;
  if (r.failure) s.failure = { class: r.failure.class, reason: r.failure.reason, retryable: r.failure.retryable };
  if (r.retryAt) s.retryAt = r.retryAt;
  return s;
}

export interface Page {
  total: number;
  builds: BuildSummary[];
  nextCursor: string | null;
}

/**
 * One page of `sorted` (newest first) matching the query. The cursor is the key
 * of the last build of the previous page; `position` maps keys to indexes.
 */
export function pageOf(
  sorted: readonly BuildRecord[],
  position: ReadonlyMap<string, number>,
  q: BuildsQuery,
  running: ReadonlyMap<string, string>,
  nowMs: number,
): Page {
  const limit = q.limit ?? 50;
  let start = 0;
  if (q.cursor !== undefined) {
    const at = position.get(q.cursor);
    if (at === undefined) throw new BadParameterError('cursor', `cursor '${q.cursor}' names no build on kiln/status (start again without it)`);
    start = at + 1;
  }
  const unfiltered = !q.state && !q.package && !q.pool && !q.arch;
  const matches = (r: BuildRecord): boolean => {
    if (q.package && r.inputs.package !== q.package) return false;
    if (q.pool && r.pool !== q.pool) return false;
    if (q.arch && r.inputs.arch !== q.arch) return false;
    if (!q.state) return true;
    if (q.state === 'running' || q.state === 'queued') return r.state === 'queued' && running.has(r.key) === (q.state === 'running');
    return r.state === q.state;
  };
  const builds: BuildSummary[] = [];
  let total = unfiltered ? sorted.length : 0;
  let next: string | null = null;
  for (let i = 0; i < sorted.length; i++) {
    const r = sorted[i];
    if (!unfiltered) {
      if (!matches(r)) continue;
      total++;
    }
    if (i < start) continue;
    if (builds.length < limit) builds.push(summarize(r, running.get(r.key), nowMs));
    else if (next === null) {
      next = builds[builds.length - 1].key;
      if (unfiltered) break;
    }
  }
  return { total, builds, nextCursor: next };
}
