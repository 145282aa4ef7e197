// Pure: build records as rows for `kiln builds`, and lookups by key prefix.
import type { BuildRecord } from '../../schema/status.ts';
import { NotFoundError, UsageError } from '../../schema/errors.ts';

export interface BuildRow {
  key: string;
  package: string;
  version: string;
  arch: string;
  pool: string;
  state: BuildRecord['state'];
  attempts: number;
  agent?: string;
  finishedAt?: string;
  failure?: { class: string; reason: string; retryable: boolean };
  retryAt?: string;
  artifacts: string[];
}

export function buildRow(r: BuildRecord): BuildRow {
  const last = r.attempts[r.attempts.length - 1];
  return {
    key: r.key,
    package: r.inputs.package,
    version: r.inputs.version,
    arch: r.inputs.arch,
    pool: r.pool,
    state: r.state,
    attempts: r.attempts.length,
    ...(last?.agent ? { agent: last.agent } : {}),
    ...(last?.finishedAt ? { finishedAt: last.finishedAt } : {}),
    ...(r.failure ? { failure: { class: r.failure.class, reason: r.failure.reason, retryable: r.failure.retryable } } : {}),
    ...(r.retryAt ? { retryAt: r.retryAt } : {}),
    artifacts: (r.artifacts ?? []).map((a) => a.name),
  };
}

export function buildRows(builds: Iterable<BuildRecord>): BuildRow[] {
  return [...builds]
    .map(buildRow)
    .sort((a, b) => a.package.localeCompare(b.package) || a.version.localeCompare(b.version) || a.arch.localeCompare(b.arch) || a.key.localeCompare(b.key));
}

export function formatBuilds(rows: BuildRow[]): string {
  if (rows.length === 0) return 'no builds recorded on kiln/status';
  const lines = rows.map((r) => {
    const what = `${r.key.slice(0, 12)}  ${r.package} ${r.version} ${r.arch}`;
    const state = r.state === 'failed' && r.failure?.retryable ? `failed, retry at ${r.retryAt}` : r.state;
    const extra = r.failure ? `\n      ${r.failure.class}: ${r.failure.reason}` : '';
    return `${what}  ${state} (attempt ${r.attempts}${r.agent ? ` on ${r.agent}` : ''})${extra}`;
  });
  const by = (s: string) => rows.filter((r) => r.state === s).length;
  return [...lines, `${rows.length} build(s): ${by('succeeded')} succeeded, ${by('queued')} queued/running, ${by('failed')} failed`].join('\n');
}

/** The one record whose key starts with `prefix` (a key is long; people type the first few characters). */
export function findByPrefix<T extends { key: string }>(records: Iterable<T>, prefix: string): T {
  const p = prefix.toLowerCase();
  if (!/^[0-9a-f]{4,64}$/.test(p)) throw new UsageError(`'${prefix}' is not a build key prefix (at least 4 hex characters)`);
  const hits = [...records].filter((r) => r.key.startsWith(p));
  if (hits.length === 0) throw new NotFoundError(`no build whose key starts with ${p}`, { prefix: p });
  if (hits.length > 1) throw new UsageError(`${p} is ambiguous: ${hits.map((h) => h.key.slice(0, 16)).join(', ')}`);
  return hits[0];
}
