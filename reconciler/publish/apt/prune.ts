// Removing what no Release references any more: pool files of dropped
// versions and by-hash indexes of earlier publishes. A file is first marked
// retired (in state) and removed once it has been unreferenced for
// `retainMs`, so a client that read the previous Release can still finish.
import { readdir, rmdir, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { isTempName } from './atomic-write.ts';
import { BY_HASH, POOL_DIR, STATE_DIR } from './layout.ts';
import type { RepoState } from './state.ts';


async function filesUnder(repoDir: string, rel: string): Promise<string[]> {
  try {
    const entries = await readdir(join(repoDir, rel), { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath ?? e.path, e.name).slice(repoDir.length + 1));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/** Temp files directly in `rel` (not below it): the repo root holds the key file, `.kiln/` the state. */
async function tempsIn(repoDir: string, rel: string): Promise<string[]> {
  try {
    const entries = await readdir(join(repoDir, rel), { withFileTypes: true });
    return entries.filter((e) => e.isFile() && isTempName(e.name)).map((e) => (rel ? `${rel}/${e.name}` : e.name));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
}

/**
 * Files a prune may consider: every by-hash index under dists/, everything in pool/ when
 * `scanPool`, and every temp file a killed writer can leave wherever Kiln writes one (the repo
 * root, .kiln/, dists/, and pool/ when scanned).
 */
export async function candidateFiles(repoDir: string, scanPool = true): Promise<string[]> {
  const dists = await filesUnder(repoDir, 'dists');
  const wanted = (p: string) => p.includes(`/${BY_HASH}/`) || isTempName(p.slice(p.lastIndexOf('/') + 1));
  return [
    ...(scanPool ? await filesUnder(repoDir, POOL_DIR) : []),
    ...dists.filter(wanted),
    ...(await tempsIn(repoDir, '')),
    ...(await tempsIn(repoDir, STATE_DIR)),
  ];
}

/** Walking a 5,000-package pool costs ~100 ms: skip it when nothing can have left it. */
export const FULL_SCAN_EVERY_MS = 86_400_000;

export function needsPoolScan(state: RepoState, referenced: Set<string>, now: Date): boolean {
  if (!state.lastFullScan || now.getTime() - Date.parse(state.lastFullScan) > FULL_SCAN_EVERY_MS) return true; // leftovers of a killed writer
  if (Object.keys(state.retired).some((p) => p.startsWith(POOL_DIR + '/'))) return true;
  return Object.keys(state.pool).some((p) => !referenced.has(p));
}

export interface PruneDecision {
  retire: string[];
  remove: string[];
  /** No longer retired: referenced again. */
  revive: string[];
}

/** Pure: which candidates to retire, remove or revive, given what is referenced and when things were retired. */
export function decidePrune(candidates: string[], referenced: Set<string>, retired: Record<string, string>, now: Date, retainMs: number): PruneDecision {
  const d: PruneDecision = { retire: [], remove: [], revive: [] };
  for (const path of Object.keys(retired)) if (referenced.has(path)) d.revive.push(path);
  for (const path of candidates) {
    if (referenced.has(path)) continue;
    const since = retired[path];
    if (since === undefined) {
      if (retainMs <= 0) d.remove.push(path);
      else d.retire.push(path);
    } else if (now.getTime() - Date.parse(since) >= retainMs) d.remove.push(path);
  }
  return d;
}

export async function pruneRepository(opts: {
  repoDir: string;
  state: RepoState;
  referenced: Set<string>;
  now: Date;
  retainMs: number;
  /** Walk the whole pool even if nothing seems to have left it (after a writer crashed). */
  forceScan?: boolean;
  /** The pool holds only what this publish wrote (it did not exist before): nothing to find there. */
  skipScan?: boolean;
  saveState: () => Promise<void>;
}): Promise<{ removed: string[]; retired: string[]; scannedPool: boolean }> {
  const { repoDir, state, now } = opts;
  const scanPool = opts.forceScan === true || (!opts.skipScan && needsPoolScan(state, opts.referenced, now));
  const all = await candidateFiles(repoDir, scanPool);
  if (scanPool || opts.skipScan) state.lastFullScan = now.toISOString();
  const temps = new Set(all.filter((p) => isTempName(p.slice(p.lastIndexOf('/') + 1))));
  const decision = decidePrune(
    all.filter((p) => !temps.has(p)),
    opts.referenced,
    state.retired,
    now,
    opts.retainMs,
  );
  for (const p of decision.revive) delete state.retired[p];
  for (const p of decision.retire) state.retired[p] = now.toISOString();
  // The caller holds the repository lock: no temp file belongs to a live writer.
  for (const p of temps) await unlink(join(repoDir, p)).catch(() => {});
  // Forget first, delete second: a kill in between leaves an unknown file (found
  // by the next pool scan), never a state that claims a deleted file.
  for (const p of decision.remove) {
    delete state.retired[p];
    delete state.pool[p];
  }
  if (decision.remove.length) await opts.saveState();
  const removed: string[] = [];
  for (const p of decision.remove) {
    await unlink(join(repoDir, p)).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
    });
    removed.push(p);
    if (p.startsWith(POOL_DIR + '/')) await removeEmptyParents(repoDir, dirname(p));
  }
  // Forget retired entries whose file is gone by other means.
  const present = new Set(all);
  if (scanPool) for (const p of Object.keys(state.pool)) if (!present.has(p)) delete state.pool[p];
  for (const p of Object.keys(state.retired)) if (!present.has(p) && (scanPool || !p.startsWith(POOL_DIR + '/'))) delete state.retired[p];
  // Drop cached control data no pool file refers to any more.
  const live = new Set(Object.values(state.pool));
  for (const sha of Object.keys(state.files)) if (!live.has(sha)) delete state.files[sha];
  return { removed, retired: decision.retire, scannedPool: scanPool || opts.skipScan === true };
}

async function removeEmptyParents(repoDir: string, rel: string): Promise<void> {
  for (let dir = rel; dir.startsWith(POOL_DIR + '/'); dir = dirname(dir)) {
    try {
      await rmdir(join(repoDir, dir));
    } catch {
      return; // not empty (or already gone): stop climbing
    }
  }
}
