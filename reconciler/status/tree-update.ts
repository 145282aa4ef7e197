// A new tree from an old one plus path changes, writing only the trees on the
// way to a changed entry: an untouched subtree keeps its oid and is not read.
import fs from 'node:fs';
import git from 'isomorphic-git';
import type { GitCache } from '../git/tree.ts';
import { writeObject } from './git-objects.ts';
import { encodeTree, groupChanges, mergeEntries, sameEntries, type DirChanges, type TreeEntry } from './tree-format.ts';

export interface TreeContext {
  dir: string;
  gitdir: string;
  cache: GitCache;
}

export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

/** The entries of a tree (none for undefined or the empty tree). */
export async function readEntries(ctx: TreeContext, oid: string | undefined): Promise<TreeEntry[]> {
  if (!oid || oid === EMPTY_TREE) return [];
  const { tree } = await git.readTree({ fs, dir: ctx.dir, gitdir: ctx.gitdir, oid, cache: ctx.cache });
  return tree.map((e) => ({ mode: e.mode, path: e.path, oid: e.oid }));
}

/** The new oid of the directory at `base` after `changes` (null: it became empty). */
async function updateDir(ctx: TreeContext, base: string | undefined, changes: DirChanges): Promise<string | null> {
  const entries = await readEntries(ctx, base);
  const subtrees = new Map<string, string | null>();
  const byName = changes.dirs.size ? new Map(entries.map((e) => [e.path, e])) : undefined;
  await Promise.all(
    [...changes.dirs].map(async ([name, sub]) => {
      const old = byName!.get(name);
      const oldTree = old && (old.mode === '040000' || old.mode === '40000') ? old.oid : undefined;
      subtrees.set(name, await updateDir(ctx, oldTree, sub));
    }),
  );
  const merged = mergeEntries(entries, changes.files, subtrees);
  if (base && sameEntries(entries, merged)) return base;
  if (merged.length === 0) return null;
  return writeObject(ctx.gitdir, 'tree', encodeTree(merged));
}

/** Apply path -> blob oid (null deletes) to the tree `base`; returns the new root tree oid. */
export async function updateTree(ctx: TreeContext, base: string | undefined, changes: ReadonlyMap<string, string | null>): Promise<string> {
  if (changes.size === 0 && base) return base;
  const root = await updateDir(ctx, base, groupChanges(changes));
  return root ?? (await writeObject(ctx.gitdir, 'tree', Buffer.alloc(0)));
}
