// Observed state from the status branch. Incremental: given the previous
// snapshot, only the files that changed between the two status commits are
// read again; the same commit returns the previous snapshot at once.
import type { Logger } from 'pino';
import { STATUS_REF, TRAILERS } from '../../schema/status.ts';
import type { ObservedState } from '../model.ts';
import { diffCommits, readBlobText, readCommitInfo, type GitCache } from '../git/tree.ts';
import { gitdirOf } from './git-objects.ts';
import { parseTrailers } from './message.ts';
import { formatProblem, RECORD_DIRS, recordKindOf, type RecordProblem } from './parse-record.ts';
import { applyChanges, emptySnapshot, parseChanges, type ObservedSnapshot } from './snapshot.ts';
import { readRef } from './ref-cas.ts';
import { loadSnapshotCache, saveSnapshotCache } from './snapshot-cache.ts';
import type { TreeContext } from './tree-update.ts';
import pMap from 'p-map';

export interface ReadOptions {
  /** The repository (work tree) holding the status branch. */
  dir: string;
  cache: GitCache;
  previous?: ObservedSnapshot;
  /**
   * Without `previous`, start from the parsed copy in <gitdir>/kiln/observed.json
   * and refresh it after a read that parsed many files (default true).
   */
  useCache?: boolean;
  log?: Logger;
}

export interface ReadStats {
  /** incremental: from `previous` or, with `cached`, from the on-disk cache. */
  mode: 'unchanged' | 'empty' | 'incremental' | 'full';
  cached?: boolean;
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
  const texts = await pMap(files, (f) => readBlobText(dir, f.oid, cache), { concurrency: 16 });
  return new Map(files.map((f, i) => [f.path, texts[i]]));
}


/** The record files that differ between two trees (from undefined: every record file), with their new text. */
async function changedFiles(ctx: TreeContext, from: string | undefined, to: string): Promise<Map<string, string | null>> {
  const diff = await diffCommits(ctx.dir, from, to, ctx.cache, { prefixes: RECORD_DIRS });
  const wanted = diff.filter((c) => recordKindOf(c.path)).map((c): [string, string | null] => [c.path, c.change === 'delete' ? null : c.oid!]);
  const texts = await readTexts(
    ctx.dir,
    ctx.cache,
    wanted.filter(([, oid]) => oid !== null).map(([path, oid]) => ({ path, oid: oid! })),
  );
  return new Map(wanted.map(([path, oid]) => [path, oid === null ? null : texts.get(path)!]));
}

/** The tree of a commit, or undefined when the commit cannot be read (e.g. the branch was rewritten and gc'd). */
async function treeOf(dir: string, cache: GitCache, commit: string): Promise<string | undefined> {
  try {
    return (await readCommitInfo(dir, commit, cache)).tree;
  } catch {
    return undefined;
  }
}

/** How far back to look for a Kiln-Desired trailer past commits made by other tools. */
const DESIRED_LOOKBACK = 100;

/**
 * The Kiln-Desired trailer of the head, or of its nearest first-parent ancestor
 * that has one (a commit made by hand or another tool has none, and must not
 * make the reconciler forget what it last reconciled).
 */
async function lastDesired(
  dir: string,
  cache: GitCache,
  head: string,
  headInfo: { message: string; parent: string[] },
  known: ObservedSnapshot | undefined,
): Promise<string | undefined> {
  let info = headInfo;
  for (let i = 0; i < DESIRED_LOOKBACK; i++) {
    const d = parseTrailers(info.message)[TRAILERS.desired];
    if (d) return d;
    const parent = info.parent[0];
    if (!parent) return undefined;
    if (known?.commit === parent) return known.state.desiredCommit;
    info = await readCommitInfo(dir, parent, cache);
  }
  return undefined;
}

/** Parsing more files than this in one read refreshes the on-disk cache. */
const CACHE_REFRESH_FILES = 200;

export async function readObserved(opts: ReadOptions): Promise<ReadResult> {
  const { dir, cache, log } = opts;
  let previous = opts.previous;
  const useCache = opts.useCache ?? true;
  const gitdir = await gitdirOf(dir);
  const head = await readRef(gitdir, STATUS_REF);
  if (head === null) {
    const snap = previous && previous.commit === undefined ? previous : emptySnapshot();
    return result(snap, { mode: 'empty', filesRead: 0 });
  }
  if (previous?.commit === head) return result(previous, { mode: 'unchanged', filesRead: 0 });

  const info = await readCommitInfo(dir, head, cache);

  const ctx: TreeContext = { dir, gitdir, cache };
  let baseTree: string | undefined;
  let cached = false;
  if (previous?.commit) baseTree = await treeOf(dir, cache, previous.commit);
  else if (useCache) {
    const hit = await loadSnapshotCache(gitdir, (c) => treeOf(dir, cache, c), log);
    if (hit) [previous, baseTree, cached] = [hit.snapshot, hit.tree, true];
  }
  if (cached && previous?.commit === head) return result(previous, { mode: 'unchanged', filesRead: 0, cached });
  const base = baseTree ? previous : undefined;
  const desiredCommit = await lastDesired(dir, cache, head, info, base);
  const mode: ReadStats['mode'] = base ? 'incremental' : 'full';
  const changes = await changedFiles(ctx, baseTree, info.tree);
  const snapshot = applyChanges(base ?? emptySnapshot(), parseChanges(changes), { commit: head, desiredCommit });
  for (const [path, p] of snapshot.problems) {
    if (changes.has(path)) log?.warn({ path, problem: p.message }, `skipping unusable status record: ${formatProblem(p)}`);
  }
  const filesRead = [...changes.values()].filter((c) => c !== null).length;
  if (useCache && filesRead >= CACHE_REFRESH_FILES) await saveSnapshotCache(gitdir, snapshot, info.tree, log);
  return result(snapshot, { mode, filesRead, ...(cached ? { cached } : {}) });
}
