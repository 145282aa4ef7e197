// kiln/status diverged: our last push never landed and another writer moved the
// remote branch meanwhile. Our unpushed commits' changes (from the merge base)
// are written again, in one signed commit, on top of the remote head; a file
// the other writer also changed since the merge base keeps the remote's version
// (it was recorded first, and a pass derives ours again from git state).
import fs from 'node:fs';
import git from 'isomorphic-git';
import { STATUS_REF } from '../../schema/status.ts';
import { diffCommits, readBlobText } from '../git/tree.ts';
import type { Signer } from '../signing/signer.ts';
import { compareAndSwapRef } from '../status/ref-cas.ts';
import { recordPass } from '../status/writer.ts';
import type { Mirror } from './mirror.ts';

export async function reapplyPending(m: Mirror, o: { local: string; remote: string; signer: Signer; verifyStatus: (commit: string) => Promise<void> }): Promise<string | null> {
  const dir = m.gitdir;
  const [base] = await git.findMergeBase({ fs, gitdir: dir, oids: [o.local, o.remote], cache: m.cache });
  const [ours, theirs] = await Promise.all([diffCommits(dir, base, o.local, m.cache), diffCommits(dir, base, o.remote, m.cache)]);
  const touched = new Set(theirs.map((c) => c.path));
  const files = new Map<string, string | null>();
  for (const c of ours) if (!touched.has(c.path)) files.set(c.path, c.change === 'delete' ? null : await readBlobText(dir, c.oid!, m.cache));
  const kept = ours.length - files.size;
  // Read everything first: once the ref moves, our commits are reachable only through `files`.
  await compareAndSwapRef(dir, STATUS_REF, o.local, o.remote);
  const { commit } = await recordPass({
    dir,
    cache: m.cache,
    signer: o.signer,
    log: m.log,
    verifyHead: o.verifyStatus,
    build: () => ({ files, summary: `kiln: re-apply ${files.size} unpushed record(s) on the remote kiln/status`, trailers: {} }),
  });
  m.log.warn({ local: o.local, remote: o.remote, reapplied: files.size, remoteWon: kept, commit }, 'kiln/status diverged from the remote: our unpushed records were re-applied on its head');
  return commit;
}
