// What a repository's publisher remembers between runs (ROOT/<dist>/.kiln/state.json),
// so that a one-package change does not re-read every .deb. It is a cache of
// facts derivable from the repository itself: losing it costs time, not data.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic-write.ts';
import { STATE_FILE } from './layout.ts';

export interface StoredFile {
  /** The .deb's control paragraph, without the fields apt computes. */
  control: string;
  size: number;
  md5: string;
  package: string;
  version: string;
  arch: string;
  /** Source package name (Source, else Package); absent in states written before it was kept. */
  source?: string;
}

export interface StoredIndex {
  sha256: string;
  md5: string;
  size: number;
}

export interface RepoState {
  version: 1;
  /** sha256 -> what the index needs about that .deb. */
  files: Record<string, StoredFile>;
  /** Pool path -> sha256 of the bytes there. */
  pool: Record<string, string>;
  /** Index path relative to dists/<suite> -> its digests. */
  indexes: Record<string, StoredIndex>;
  /** Paths (relative to the repo root) no longer referenced, and since when (ISO time). */
  retired: Record<string, string>;
  /** When prune last walked the whole pool (ISO time); see prune.ts. */
  lastFullScan?: string;
  release?: {
    sha256: string;
    /** sha256 of the Release text without Date/Valid-Until, plus the signer: equal means nothing to re-sign. */
    contentKey: string;
    date: string;
    signer: string;
  };
}

export function emptyState(): RepoState {
  return { version: 1, files: {}, pool: {}, indexes: {}, retired: {} };
}

export async function loadState(repoDir: string): Promise<RepoState> {
  let text: string;
  try {
    text = await readFile(join(repoDir, STATE_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return emptyState();
    throw e;
  }
  try {
    const s = JSON.parse(text) as RepoState;
    return s.version === 1 ? { ...emptyState(), ...s } : emptyState();
  } catch {
    return emptyState(); // a cache: rebuild it rather than stop publishing
  }
}

export async function saveState(repoDir: string, state: RepoState): Promise<void> {
  await writeFileAtomic(join(repoDir, STATE_FILE), JSON.stringify(state));
}
