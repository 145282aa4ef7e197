// The first-parent chain of a commit, read with isomorphic-git: each commit's
// parents, signature and signed payload.
import fs from 'node:fs';
import git from 'isomorphic-git';
import { repoArgs, type GitCache } from '../git/tree.ts';
import { UntrustedCommitError } from '../../schema/errors.ts';

export interface SignedCommit {
  oid: string;
  parents: string[];
  gpgsig?: string;
  /** The commit object without its gpgsig header: the bytes the signature covers. */
  payload: string;
}

export async function readSignedCommit(dir: string, oid: string, cache: GitCache): Promise<SignedCommit> {
  const { commit, payload } = await git.readCommit({ fs, ...repoArgs(dir), oid, cache });
  return { oid, parents: commit.parent, gpgsig: commit.gpgsig, payload };
}

/**
 * Commits from `head` back along first parents, newest first, stopping after
 * `stopAt` (included) or at the root. Throws when longer than `max`.
 */
export async function firstParentChain(dir: string, head: string, cache: GitCache, opts: { stopAt?: string; max: number }): Promise<SignedCommit[]> {
  const out: SignedCommit[] = [];
  let oid: string | undefined = head;
  while (oid) {
    if (out.length >= opts.max) {
      throw new UntrustedCommitError(
        `more than ${opts.max} commits between ${head.slice(0, 12)} and ${opts.stopAt ? opts.stopAt.slice(0, 12) : 'the root'}: refusing to walk further`,
        { commit: head, stopAt: opts.stopAt },
      );
    }
    const c = await readSignedCommit(dir, oid, cache);
    out.push(c);
    if (oid === opts.stopAt) break;
    oid = c.parents[0];
  }
  return out;
}
