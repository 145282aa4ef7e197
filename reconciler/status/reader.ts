// Observed state from the status branch. Incremental: given the previous
// snapshot, only the files that changed between the two status commits are
// read again; the same commit returns the previous snapshot at once.
import type { Logger } from 'pino';
import { STATUS_REF, TRAILERS } from '../../schema/status.ts';
import type { ObservedState } from '../model.ts';
import { diffCommits, listFiles, readBlobText, readCommitInfo, type GitCache } from '../git/tree.ts';
import { gitdirOf } from './git-objects.ts';
import { parseTrailers } from './message.ts';
import { formatProblem, RECORD_DIRS, recordKindOf, type RecordProblem } from './parse-record.ts';
import { applyChanges, emptySnapshot, parseChanges, type ObservedSnapshot } from './snapshot.ts';
import { readRef } from './ref-cas.ts';

export interface ReadOptions {
  /** The repository (work tree) holding the status branch. */
  dir: string;
  cache: GitCache;
  previous?: ObservedSnapshot;
  log?: Logger;
}

export interface ReadStats {
  mode: 'unchanged' | 'empty' | 'incremental' | 'full';
  /** Record files read and parsed in this call. */
  filesRead: number;
}

export interface ReadResult {
  state: ObservedState;
  snapshot: ObservedSnapshot;
  /** Files that were skipped as unusable (all of them, not only new ones). */
  problems: RecordProblem[];
  stats: ReadStats;
}

function result(snapshot: ObservedSnapshot, stats: ReadStats): ReadResult {
  return { state: snapshot.state, snapshot, problems: [...snapshot.problems.values()], stats };
}

/** Read many blobs with bounded concurrency. */
async function readTexts(dir: string, cache: GitCache, files: { path: string; oid: string }[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      const f = files[next++];
      out.set(f.path, await readBlobText(dir, f.oid, cache));
    }
  };
  await Promise.all(Array.from({ length: Math.min(16, files.length) }, worker));
  return out;
}

/** The changed record files between two status commits, or undefined if `from` cannot be diffed. */
async function changedFiles(dir: string, cache: GitCache, from: string, to: string): Promise<Map<string, string | null> | undefined> {
  let diff;
  try {
    diff = await diffCommits(dir, from, to, cache, { prefixes: RECORD_DIRS });
  } catch {
    return undefined; // e.g. the old commit is gone (branch rewritten): read everything
  }
  const wanted = diff.filter((d) => recordKindOf(d.path));
  const texts = await readTexts(
    dir,
    cache,
    wanted.filter((d) => d.change !== 'delete').map((d) => ({ path: d.path, oid: d.oid! })),
  );
  const out = new Map<string, string | null>();
  for (const d of wanted) out.set(d.path, d.change === 'delete' ? null : texts.get(d.path)!);
  return out;
}

export async function readObserved(opts: ReadOptions): Promise<ReadResult> {
  const { dir, cache, previous, log } = opts;
  const head = await readRef(await gitdirOf(dir), STATUS_REF);
  if (head === null) {
    const snap = previous && previous.commit === undefined ? previous : emptySnapshot();
    return result(snap, { mode: 'empty', filesRead: 0 });
  }
  if (previous?.commit === head) return result(previous, { mode: 'unchanged', filesRead: 0 });

  const info = await readCommitInfo(dir, head, cache);
  const desiredCommit = parseTrailers(info.message)[TRAILERS.desired] || undefined;

  let base = previous?.commit ? previous : undefined;
  let changes = base ? await changedFiles(dir, cache, base.commit!, head) : undefined;
  let mode: ReadStats['mode'] = 'incremental';
  if (!changes) {
    mode = 'full';
    base = undefined;
    const files = (await listFiles(dir, head, cache, { prefixes: RECORD_DIRS })).filter((f) => recordKindOf(f.path));
    changes = await readTexts(dir, cache, files);
  }
  const snapshot = applyChanges(base ?? emptySnapshot(), parseChanges(changes), { commit: head, desiredCommit });
  for (const [path, p] of snapshot.problems) {
    if (changes.has(path)) log?.warn({ path, problem: p.message }, `skipping unusable status record: ${formatProblem(p)}`);
  }
  return result(snapshot, { mode, filesRead: [...changes.values()].filter((c) => c !== null).length });
}
