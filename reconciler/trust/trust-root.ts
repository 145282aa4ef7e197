// The operator's approval of a brand-new repo's root of trust, kept as a ref
// in the metadata repo's own git dir (local, never pushed): one atomic ref
// update, so it survives crashes and needs no extra file.
import fs from 'node:fs';
import git from 'isomorphic-git';
import { TRUST_ROOT_REF } from '../../schema/status.ts';
import { repoArgs } from '../git/tree.ts';

export { TRUST_ROOT_REF };

export async function readTrustRoot(dir: string): Promise<string | undefined> {
  try {
    return await git.resolveRef({ fs, ...repoArgs(dir), ref: TRUST_ROOT_REF });
  } catch {
    return undefined;
  }
}

export async function writeTrustRoot(dir: string, commit: string): Promise<void> {
  await git.writeRef({ fs, ...repoArgs(dir), ref: TRUST_ROOT_REF, value: commit, force: true });
}
