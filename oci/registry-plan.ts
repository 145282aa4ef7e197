// What one registry release changes: from the complete desired content (repository,
// tag → digest) and what production serves now, the digests to copy, the tags to
// point (new, moved on purpose, or moved by hand: drift), and what to prune. Pure.
//
// Kiln prunes only tags it released (in the record) that the desired state dropped;
// every other tag in the repository is someone else's and stays (agents' build-<key>
// tags share a candidate distribution's repositories). distribution 2.8 cannot delete
// a tag alone, only a manifest (with all its tags): a manifest is deleted only when no
// tag that remains (desired, or not Kiln's) points at it; a dropped tag on a manifest
// still in use is reported as stale, not deleted.

export interface DesiredTag {
  repository: string;
  tag: string;
  digest: string;
  /** host/repository the digest is copied from when production lacks it (default: the candidate registry, same repository). */
  from?: string;
  /**
   * When `digest` is an image index: the digests of its images. Each is signed for the tag as well
   * (containers/image checks a pull of one platform against that image's own signatures).
   */
  instances?: string[];
}

export interface ObservedRepository {
  repository: string;
  /** tag → digest production serves now. */
  tags: Record<string, string>;
}

export interface RegistryPlan {
  /** Digests production lacks in that repository (copied by digest from the candidate registry). */
  copy: { repository: string; digest: string; from?: string }[];
  /** Tags to write (and sign). */
  setTags: DesiredTag[];
  /** Tags that point somewhere other than desired and recorded: moved by hand. */
  drift: { repository: string; tag: string; found: string; desired: string }[];
  /** Manifests a dropped tag of Kiln's pointed at that no remaining tag points at. */
  deleteManifests: { repository: string; digest: string }[];
  /** Kiln's dropped tags that cannot go without deleting a manifest still in use (kept, unsigned). */
  staleTags: { repository: string; tag: string; digest: string }[];
}

/**
 * `recorded`: what Kiln last released (releases/<dist>.yaml): a tag whose digest differs from
 * both the record and the desired state was moved by someone else.
 */
export function planRegistryRelease(desired: DesiredTag[], observed: ObservedRepository[], recorded: DesiredTag[] = []): RegistryPlan {
  const plan: RegistryPlan = { copy: [], setTags: [], drift: [], deleteManifests: [], staleTags: [] };
  const seen = new Map(observed.map((o) => [o.repository, o.tags]));
  const rec = new Map(recorded.map((r) => [`${r.repository}:${r.tag}`, r.digest]));
  const repos = [...new Set([...desired.map((d) => d.repository), ...observed.map((o) => o.repository)])].sort();
  for (const repository of repos) {
    const want = desired.filter((d) => d.repository === repository).sort((a, b) => a.tag.localeCompare(b.tag));
    const have = seen.get(repository) ?? {};
    const present = new Set(Object.values(have));
    for (const digest of [...new Set(want.map((w) => w.digest))].sort()) {
      const from = want.find((w) => w.digest === digest && w.from)?.from;
      if (!present.has(digest)) plan.copy.push({ repository, digest, ...(from ? { from } : {}) });
    }
    for (const w of want) {
      const found = have[w.tag];
      if (found === w.digest) continue;
      const recordedDigest = rec.get(`${repository}:${w.tag}`);
      if (found !== undefined && recordedDigest !== undefined && found !== recordedDigest) plan.drift.push({ repository, tag: w.tag, found, desired: w.digest });
      plan.setTags.push(w);
    }
    const wantedTags = new Set(want.map((w) => w.tag));
    const dropped = Object.entries(have).filter(([tag]) => !wantedTags.has(tag) && rec.has(`${repository}:${tag}`));
    const droppedTags = new Set(dropped.map(([tag]) => tag));
    // What points where once Kiln's own changes are made: desired tags, and every tag Kiln does not own.
    const remaining = new Set([...want.map((w) => w.digest), ...Object.entries(have).filter(([tag]) => !wantedTags.has(tag) && !droppedTags.has(tag)).map(([, d]) => d)]);
    const gone = new Set<string>();
    for (const [tag, digest] of dropped.sort(([a], [b]) => a.localeCompare(b))) {
      if (remaining.has(digest)) plan.staleTags.push({ repository, tag, digest });
      else gone.add(digest);
    }
    for (const digest of [...gone].sort()) plan.deleteManifests.push({ repository, digest });
  }
  return plan;
}

/** The images of an index as recorded with its tags (`instances`, of any row naming that digest in that repository); none for a single image. */
export function recordedInstances(recorded: readonly DesiredTag[], d: { repository: string; digest: string }): string[] {
  return [...new Set(recorded.filter((r) => r.repository === d.repository && r.digest === d.digest).flatMap((r) => r.instances ?? []))];
}
