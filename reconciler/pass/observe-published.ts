// Observe what is published, not only what the status branch remembers: each
// full pass compares every recorded distribution with its release record
// through its release target's observe() (apt: signed files and indexes every
// pass, pool files in a bounded rotation); a quiet pass only stat()s each
// target's change marker (apt: InRelease) it saw last time.
import type { RegistryAuth } from '../../oci/registry-auth.ts';
import { stat } from 'node:fs/promises';
import type { ReleaseRecord } from '../../schema/status.ts';
import type { DesiredDistribution } from '../model.ts';
import { releaseTarget } from '../release-targets/index.ts';

export interface PublishedMemo {
  /** Distribution -> where its pool rotation continues. */
  cursors: Map<string, number>;
  /** Change marker path (apt: InRelease) -> `ino:size:mtime` after the last full pass. */
  seen: Map<string, string>;
}

export const emptyPublishedMemo = (): PublishedMemo => ({ cursors: new Map(), seen: new Map() });

const fingerprint = (path: string) => stat(path).then((s) => `${s.ino}:${s.size}:${s.mtimeMs}`, () => 'missing');

/** Distribution -> what differs from its record, for each recorded distribution whose repository drifted. */
export async function observePublished(reposDir: string, distributions: Map<string, DesiredDistribution>, releases: Map<string, ReleaseRecord>, memo: PublishedMemo, registryAuth?: RegistryAuth): Promise<Map<string, string>> {
  const drift = new Map<string, string>();
  for (const dist of distributions.values()) {
    const record = releases.get(dist.name);
    if (!record?.releaseSha256) continue;
    const seen = await releaseTarget(dist).observe(reposDir, dist, record, memo.cursors.get(dist.name) ?? 0, registryAuth).catch((e: Error) => ({ drift: `cannot read it: ${e.message}`, cursor: 0 }));
    memo.cursors.set(dist.name, seen.cursor);
    if (seen.drift) drift.set(dist.name, seen.drift);
  }
  return drift;
}

/** Remember each published change marker as it is now (after the pass published). */
export async function rememberPublished(reposDir: string, distributions: Map<string, DesiredDistribution>, memo: PublishedMemo): Promise<void> {
  memo.seen.clear();
  for (const dist of distributions.values()) {
    const marker = releaseTarget(dist).changeMarker(reposDir, dist);
    memo.seen.set(marker, await fingerprint(marker));
  }
}

/** For the quiet path: true when every change marker is as the last full pass left it (one stat each). */
export async function publishedUnchanged(memo: PublishedMemo): Promise<boolean> {
  for (const [path, was] of memo.seen) if ((await fingerprint(path)) !== was) return false;
  return true;
}
