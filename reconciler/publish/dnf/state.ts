// The dnf publisher's cache of facts about its repository (.kiln/dnf-state.json,
// never served): which signed file came from which built rpm and key, what is
// retired since when, and what the last repodata was made of. Losing it costs a
// re-sign and a full createrepo_c run, not data.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DNF_STATE_FILE } from './layout.ts';

export interface DnfState {
  version: 1;
  /** Published path -> sha256 of the built artifact, of the signed file, the signing key's fingerprint and the header signature (armored). */
  files: Record<string, { built: string; sha256: string; size?: number; key: string; name?: string; evr?: string; signature?: string }>;
  /** Path -> epoch ms since when no repodata names it (deleted after the retention time). */
  retired: Record<string, number>;
  /** What the current repodata was made from (files, their sha256, key, .repo text), hashed. */
  contentKey?: string;
  /** sha256 of the repomd.xml written last. */
  repomd?: string;
}

export const emptyDnfState = (): DnfState => ({ version: 1, files: {}, retired: {} });

export async function readDnfState(repoDir: string): Promise<DnfState> {
  const text = await readFile(join(repoDir, DNF_STATE_FILE), 'utf8').catch(() => undefined);
  if (!text) return emptyDnfState();
  try {
    const s = JSON.parse(text) as DnfState;
    return s.version === 1 && s.files && s.retired ? s : emptyDnfState();
  } catch {
    return emptyDnfState();
  }
}
