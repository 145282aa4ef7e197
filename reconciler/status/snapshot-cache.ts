// A parsed copy of the observed state, kept in <gitdir>/kiln/observed.json, so a
// fresh process (kiln status, kiln plan, a restarted reconciler) reads only what
// changed since then instead of parsing every record (a full read of 12,000
// records takes ~3 s; JSON + validation ~0.2 s). Advisory: a missing, stale,
// unreadable or invalid cache is ignored and git stays the source of truth.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { emptyObserved } from '../model.ts';
import { parseRecordData, type RecordKind, type RecordProblem } from './parse-record.ts';
import { mapOf, type ObservedSnapshot, type RecordIndex } from './snapshot.ts';
import { LayeredMap } from '../collections/layered-map.ts';

const VERSION = 1;
const OID = /^[0-9a-f]{40}$/;

interface CacheFile {
  version: number;
  commit: string;
  /** The commit's tree: checked on load, so a cache for a rewritten commit is never used. */
  tree: string;
  desiredCommit?: string;
  records: [path: string, record: unknown][];
  problems: RecordProblem[];
}

export const cachePath = (gitdir: string) => join(gitdir, 'kiln', 'observed.json');

/** Save atomically (temp + rename); failures are logged and ignored (e.g. a read-only repo). */
export async function saveSnapshotCache(gitdir: string, snapshot: ObservedSnapshot, tree: string, log?: Logger): Promise<void> {
  if (!snapshot.commit) return;
  const records: [string, unknown][] = [];
  for (const [path, ref] of snapshot.index) {
    records.push([path, mapOf(snapshot.state, ref.kind).get(ref.id)]);
  }
  const file: CacheFile = {
    version: VERSION,
    commit: snapshot.commit,
    tree,
    desiredCommit: snapshot.state.desiredCommit,
    records,
    problems: [...snapshot.problems.values()],
  };
  const path = cachePath(gitdir);
  const tmp = `${path}.${process.pid}.${Date.now()}.tmp`;
  try {
    await mkdir(join(gitdir, 'kiln'), { recursive: true });
    await writeFile(tmp, JSON.stringify(file));
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    log?.debug({ err: e, path }, 'could not save the observed-state cache');
  }
}

/**
 * The cached snapshot, if there is one for a commit whose tree is `treeOf(commit)`.
 * Every record is validated again (schema + path), so the cache can never
 * hold what the reader would refuse.
 */
export async function loadSnapshotCache(
  gitdir: string,
  treeOf: (commit: string) => Promise<string | undefined>,
  log?: Logger,
): Promise<{ snapshot: ObservedSnapshot; tree: string } | undefined> {
  let file: CacheFile;
  try {
    file = JSON.parse(await readFile(cachePath(gitdir), 'utf8')) as CacheFile;
  } catch {
    return undefined;
  }
  try {
    if (file.version !== VERSION || !OID.test(file.commit) || !Array.isArray(file.records) || !Array.isArray(file.problems)) return undefined;
    if ((await treeOf(file.commit)) !== file.tree) return undefined;
    const state = emptyObserved();
    state.statusCommit = file.commit;
    state.desiredCommit = typeof file.desiredCommit === 'string' ? file.desiredCommit : undefined;
    const index: RecordIndex = LayeredMap.empty<string, { kind: RecordKind; id: string }>().edit();
    for (const [path, data] of file.records) {
      const r = parseRecordData(path, data);
      if (!r.ok) return undefined;
      const v = r.value;
      mapOf(state, v.kind).set(v.id, v.record);
      index.set(path, { kind: v.kind, id: v.id });
    }
    const problems = new Map(file.problems.filter((p) => p && typeof p.path === 'string').map((p) => [p.path, p]));
    return { snapshot: { commit: file.commit, state, index: index.done(), problems }, tree: file.tree };
  } catch (e) {
    log?.debug({ err: e }, 'ignoring an unusable observed-state cache');
    return undefined;
  }
}
