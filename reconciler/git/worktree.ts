// The work tree of a metadata repo against HEAD. validate and plan read
// committed trees; this says which metadata files differ from HEAD (so they can
// warn that edits are not being read), and builds a commit object of the work
// tree for `kiln validate --worktree` — like `git stash create`: new objects
// only, no ref, index or work-tree file is changed.
import fs from 'node:fs';
import { lstat, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import git from 'isomorphic-git';
import { MODE, type GitCache } from './tree.ts';

export interface WorktreeChange {
  path: string;
  change: 'add' | 'modify' | 'delete';
}

/** Files under `prefixes` whose work-tree content differs from HEAD; undefined for a bare repo. */
export async function worktreeChanges(dir: string, prefixes: string[], cache: GitCache): Promise<WorktreeChange[] | undefined> {
  if (!fs.existsSync(join(dir, '.git'))) return undefined;
  const rows = await git.statusMatrix({ fs, dir, cache, filepaths: prefixes });
  const out: WorktreeChange[] = [];
  // [path, HEAD (0 absent, 1 present), WORKDIR (0 absent, 1 same as HEAD, 2 different), STAGE]
  for (const [path, head, work] of rows) {
    if (head === 1 && work === 0) out.push({ path, change: 'delete' });
    else if (head === 0 && work === 2) out.push({ path, change: 'add' });
    else if (head === 1 && work === 2) out.push({ path, change: 'modify' });
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Pure: the one-line warning for commands that read HEAD while the work tree differs. */
export function worktreeWarning(changes: readonly WorktreeChange[], command: string): string | undefined {
  if (changes.length === 0) return undefined;
  const shown = changes.slice(0, 5).map((c) => `${c.path} (${c.change === 'add' ? 'new' : c.change === 'delete' ? 'deleted' : 'modified'})`);
  const more = changes.length > shown.length ? ` and ${changes.length - shown.length} more` : '';
  return `${command} reads the committed HEAD, but the work tree differs in ${shown.join(', ')}${more}; commit them, or run 'kiln validate --worktree' to check the work tree`;
}

type Entry = { mode: string; path: string; oid: string; type: 'blob' | 'tree' | 'commit' };

/** A commit (parent HEAD) whose tree is HEAD's with `changes` taken from the work tree. */
export async function commitWorktree(dir: string, changes: readonly WorktreeChange[], cache: GitCache): Promise<string> {
  const head = await git.resolveRef({ fs, dir, ref: 'HEAD' });
  const { commit } = await git.readCommit({ fs, dir, oid: head, cache });
  const tree = (await rewriteTree(dir, commit.tree, '', changes, cache)) ?? (await git.writeTree({ fs, dir, tree: [] }));
  const who = { name: 'kiln validate --worktree', email: 'kiln@localhost', timestamp: Math.floor(Date.now() / 1000), timezoneOffset: 0 };
  return git.writeCommit({ fs, dir, commit: { message: 'work tree (not committed)\n', tree, parent: [head], author: who, committer: who } });
}

async function rewriteTree(dir: string, treeOid: string | undefined, base: string, changes: readonly WorktreeChange[], cache: GitCache): Promise<string | undefined> {
  const entries: Entry[] = treeOid ? (await git.readTree({ fs, dir, oid: treeOid, cache })).tree : [];
  const byName = new Map(entries.map((e) => [e.path, e]));
  const groups = new Map<string, WorktreeChange[]>();
  for (const c of changes) {
    const name = c.path.slice(base.length).split('/')[0];
    groups.set(name, [...(groups.get(name) ?? []), c]);
  }
  for (const [name, group] of groups) {
    const path = base + name;
    const direct = group.find((c) => c.path === path);
    if (direct) {
      if (direct.change === 'delete') byName.delete(name);
      else byName.set(name, await blobEntry(dir, path, name));
      continue;
    }
    const sub = byName.get(name);
    const oid = await rewriteTree(dir, sub?.type === 'tree' ? sub.oid : undefined, `${path}/`, group, cache);
    if (oid) byName.set(name, { mode: MODE.tree, path: name, oid, type: 'tree' });
    else byName.delete(name);
  }
  if (byName.size === 0) return undefined;
  return git.writeTree({ fs, dir, tree: [...byName.values()] });
}

async function blobEntry(dir: string, path: string, name: string): Promise<Entry> {
  const full = join(dir, path);
  const st = await lstat(full);
  const link = st.isSymbolicLink();
  const blob = link ? Buffer.from(await readlink(full)) : await readFile(full);
  const mode = link ? MODE.symlink : st.mode & 0o111 ? MODE.executable : MODE.file;
  return { mode, path: name, oid: await git.writeBlob({ fs, dir, blob }), type: 'blob' };
}
