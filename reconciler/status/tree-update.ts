// A new tree from an old one plus path changes, writing only the trees on the
// way to a changed entry: an untouched subtree keeps its oid and is not read. A
// changed directory is merged on its raw bytes (mergeTreeBytes): builds/ holds an
// entry per build, and parsing tens of thousands of them into objects for each
// status commit was most of its cost (scripts/bench-plan, 50,000 packages).
import { InvalidStatusChangeError } from '../../schema/errors.ts';
import type { GitCache } from '../git/tree.ts';
import { parseTreeObject } from '../git/tree.ts';
import { objectStore } from '../git/object-store.ts';
import { writeObject } from './git-objects.ts';
import { groupChanges, mergeTreeBytes, type DirChanges } from './tree-format.ts';

export interface TreeContext {
  dir: string;
  gitdir: string;
  cache: GitCache;
}

export const EMPTY_TREE = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

/** The raw bytes of a tree (empty for undefined or the empty tree). */
async function readTreeBytes(ctx: TreeContext, oid: string | undefined): Promise<Buffer> {
  if (!oid || oid === EMPTY_TREE) return Buffer.alloc(0);
  // Keyed by the work dir, as the readers in git/tree.ts key theirs: one store (and one copy of each pack) per repo.
  const { type, body } = await objectStore(ctx.dir, ctx.cache).read(oid);
  if (type !== 'tree') throw new InvalidStatusChangeError(`object ${oid} is a ${type}, not a tree`, { oid });
  return body;
}

/** The new oid of the directory at `base` after `changes` (null: it became empty). */
async function updateDir(ctx: TreeContext, base: string | undefined, changes: DirChanges): Promise<string | null> {
  const raw = await readTreeBytes(ctx, base);
  const subtrees = new Map<string, string | null>();
  if (changes.dirs.size) {
    // Only directories with changed subdirectories are parsed (the root and the like: a few entries).
    const trees = new Map(parseTreeObject(raw).filter((e) => e.type === 'tree').map((e) => [e.path, e.oid]));
    await Promise.all([...changes.dirs].map(async ([name, sub]) => subtrees.set(name, await updateDir(ctx, trees.get(name), sub))));
  }
  const merged = mergeTreeBytes(raw, changes.files, subtrees);
  if (base && merged.equals(raw)) return base;
  if (merged.length === 0) return null;
  return writeObject(ctx.gitdir, 'tree', merged);
}

/** Apply path -> blob oid (null deletes) to the tree `base`; returns the new root tree oid. */
export async function updateTree(ctx: TreeContext, base: string | undefined, changes: ReadonlyMap<string, string | null>): Promise<string> {
  if (changes.size === 0 && base) return base;
  const root = await updateDir(ctx, base, groupChanges(changes));
  return root ?? (await writeObject(ctx.gitdir, 'tree', Buffer.alloc(0)));
}
