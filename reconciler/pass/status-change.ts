// Pure: the status-branch change for a pass's events, given the branch's
// current records. Idempotent: applying the same events twice changes nothing
// the second time (a result already recorded is dropped by applyResult).
import { STATUS_LAYOUT, TRAILERS } from '../../schema/status.ts';
import type { BuildRecord } from '../../schema/status.ts';
import type { ObservedState } from '../model.ts';
import { applyResult, recordDispatch, type RetryPolicy } from '../records/build-records.ts';
import { buildRecordFile, checkRecordFile, conditionRecordFile, gateRecordFile, releaseRecordFile, sameRecord } from '../status/records.ts';
import { nextCondition } from './condition.ts';
import type { PassEvents } from './events.ts';

export interface StatusChangeContext {
  policy: RetryPolicy;
  now: Date;
  random: () => number;
}

export interface PassStatusChange {
  files: Map<string, string | null>;
  summary: string;
  trailers: Record<string, string | number>;
  counts: { succeeded: number; failed: number; dispatched: number; releases: number; gates: number; refused: number };
}

/** Build records after applying the events' results and dispatches; `succeeded` names records a result just completed. */
export function updatedBuilds(current: ObservedState, events: Pick<PassEvents, 'results' | 'dispatched' | 'desiredCommit'> & Partial<Pick<PassEvents, 'signed'>>, ctx: StatusChangeContext) {
  const updated = new Map<string, BuildRecord>();
  const succeeded = new Set<string>();
  const get = (key: string) => updated.get(key) ?? current.builds.get(key);
  for (const result of events.results) {
    const next = withHeaderSigned(applyResult(get(result.key), result, ctx.policy, ctx.now, ctx.random), events.signed?.get(result.key));
    if (!next) continue;
    updated.set(result.key, next);
    if (next.state === 'succeeded') succeeded.add(result.key);
  }
  for (const action of events.dispatched) {
    updated.set(action.key, recordDispatch(get(action.key), action, events.desiredCommit, ctx.now));
  }
  return { updated, succeeded };
}

/** A success with the header-signed copies of exactly the artifacts it keeps (collect-time rpm signatures). */
function withHeaderSigned(record: BuildRecord | null, signed: BuildRecord['signed']): BuildRecord | null {
  if (record?.state !== 'succeeded' || !signed?.length) return record;
  const kept = new Set((record.artifacts ?? []).map((a) => a.sha256));
  // One copy per built rpm (two successes of one key may arrive in one pass; the record keeps one).
  const mine = [...new Map(signed.filter((s) => kept.has(s.built)).map((s) => [s.built, s] as const)).values()];
  return mine.length ? { ...record, signed: mine } : record;
}

/** What changed, by name while it fits: "built hello 1.0-1/amd64; publish testing". */
class Summary {
  private readonly parts = new Map<string, string[]>();
  add(verb: string, subject: string): void {
    // Appended in place: a copy per add made a pass recording thousands of builds quadratic.
    const subjects = this.parts.get(verb);
    if (subjects) subjects.push(subject);
    else this.parts.set(verb, [subject]);
  }
  toString(): string {
    const text = [...this.parts]
      .map(([verb, subjects]) => (subjects.length <= 3 ? `${verb} ${subjects.join(', ')}` : `${verb} ${subjects.length} (${subjects.slice(0, 2).join(', ')}, …)`))
      .join('; ');
    return text || 'record observations';
  }
}

const buildLabel = (r: BuildRecord) => `${r.inputs.package} ${r.inputs.version}/${r.inputs.arch}`;
const BUILD_VERB: Record<BuildRecord['state'], string> = { queued: 'dispatch', succeeded: 'built', failed: 'failed' };

/** The files to write, or null when the branch already says all of it. */
export function statusChangeFor(current: ObservedState, events: PassEvents, ctx: StatusChangeContext): PassStatusChange | null {
  const files = new Map<string, string | null>();
  const counts = { succeeded: 0, failed: 0, dispatched: 0, releases: 0, gates: 0, refused: 0 };
  const summary = new Summary();
  // Structural comparison first (records read back from YAML have no undefined members, fresh ones
  // may): serialising is the expensive part, so only what is written is serialised.
  const put = <T extends object>(record: T, previous: T | undefined, file: (r: T) => [string, string]) => {
    if (previous && sameRecord(previous, record)) return false;
    const [path, content] = file(record);
    files.set(path, content);
    return true;
  };
  const { updated, succeeded } = updatedBuilds(current, events, ctx);
  for (const [key, record] of updated) {
    if (!put(record, current.builds.get(key), buildRecordFile)) continue;
    if (record.state === 'succeeded') counts.succeeded++;
    else if (record.state === 'failed') counts.failed++;
    else counts.dispatched++;
    summary.add(BUILD_VERB[record.state], buildLabel(record));
  }
  for (const g of events.gates) {
    if (!put(g, undefined, gateRecordFile)) continue;
    counts.gates++;
    summary.add(`gate ${g.verdict}`, `${g.package} ${g.version} -> ${g.distribution}`);
  }
  for (const r of events.releases) {
    if (!put(r, current.releases.get(r.distribution), releaseRecordFile)) continue;
    counts.releases++;
    summary.add('publish', r.distribution);
  }
  for (const c of events.checks) {
    if (!put(c, current.checks.get(c.commit), checkRecordFile)) continue;
    if (c.verdict === 'invalid') summary.add('invalid', `metadata at ${c.commit.slice(0, 12)}`);
    if (c.verdict !== 'refused') continue;
    counts.refused++;
    summary.add('refuse', `untrusted commit ${c.commit.slice(0, 12)}`);
  }
  if (events.outcome) {
    const ready = current.conditions.get('Ready');
    const next = nextCondition(ready, events.outcome, ctx.now);
    if (put(next, ready, conditionRecordFile)) {
      if (next.status === 'True') summary.add('ready', 'reconciled');
      else if (next.step) summary.add('failed at', next.step);
      else summary.add('not ready', next.reason);
    }
  }
  // Signatures of exactly the artifacts the record keeps, written with the success that produced them.
  for (const key of succeeded) {
    const kept = new Set((updated.get(key)?.artifacts ?? []).map((a) => STATUS_LAYOUT.signature(a.sha256)));
    for (const [path, sig] of events.signatures.get(key) ?? []) if (kept.has(path)) files.set(path, sig);
  }
  if (files.size === 0) return null;
  // A refused commit never becomes Kiln-Desired (the last trusted commit): the writer keeps the previous one.
  const trailers: Record<string, string | number> = events.trusted ? { [TRAILERS.desired]: events.desiredCommit } : {};
  const builds = counts.succeeded + counts.failed + counts.dispatched;
  if (builds) trailers[TRAILERS.builds] = builds;
  if (counts.releases) trailers[TRAILERS.releases] = events.releases.map((r) => r.distribution).join(', ');
  if (counts.refused) trailers[TRAILERS.refused] = events.desiredCommit;
  return { files, summary: `kiln: ${summary} (desired ${events.desiredCommit.slice(0, 12)})`, trailers, counts };
}
