// Pure: the per-tag rows of a registry release record (releases/<dist>.yaml):
// each tag published, its digest, and the desired commit that released that
// digest under that tag (kept from the previous record while neither changes).
import type { ReleasedTag, ReleaseRecord } from '../../schema/status.ts';

export function releasedTags(
  published: ReadonlyArray<Omit<ReleasedTag, 'desiredCommit'>>,
  previous: ReleaseRecord | undefined,
  desiredCommit: string,
): ReleasedTag[] {
  const before = new Map((previous?.tags ?? []).map((t) => [`${t.repository}:${t.tag}`, t]));
  return published
    .map((t) => {
      const was = before.get(`${t.repository}:${t.tag}`);
      return { ...t, desiredCommit: was && was.digest === t.digest ? was.desiredCommit : desiredCommit };
    })
    .sort((a, b) => a.repository.localeCompare(b.repository) || a.tag.localeCompare(b.tag));
}
