// Read-only git primitives over isomorphic-git: resolve a revision, list the
// blobs of a commit, read blobs, diff two commits. No checkout, no work tree.
// Every call takes one shared `cache` object: isomorphic-git keeps parsed
// packfile indexes there, which makes repeated reads ~20x faster.
import fs from 'node:fs';
import { constants as zlibConstants, inflateSync } from 'node:zlib';
import git from 'isomorphic-git';
import { NotFoundError } from '../../schema/errors.ts';

/** isomorphic-git's cache: an opaque object shared by every call on one repo. */
export type GitCache = object;

export interface TreeFile {
  path: string;
  oid: string;
  /** Octal git mode: '100644', '100755', '120000' (symlink), '160000' (submodule). */
  mode: string;
}

export interface TreeChange {
  path: string;
  change: 'add' | 'modify' | 'delete';
  /** The new blob (absent for deletes). */
  oid?: string;
  mode?: string;
}

export interface PrefixOptions {
  /** Only paths under these top-level directories or equal to these files, e.g. ['packages', 'kiln.yaml']. */
  prefixes?: string[];
}

export const MODE = { file: '100644', executable: '100755', symlink: '120000', submodule: '160000', tree: '40000' } as const;

/**
 * isomorphic-git's location arguments for `dir`: a work tree (dir/.git exists)
 * or a bare repository (dir is the git dir). Memoised: a repo's layout does not change.
 */
const layouts = new Map<string, { dir: string } | { gitdir: string }>();
export function repoArgs(dir: string): { dir: string } | { gitdir: string } {
  const known = layouts.get(dir);
  if (known) return known;
  if (fs.existsSync(`${dir}/.git`)) layouts.set(dir, { dir });
  else if (fs.existsSync(`${dir}/HEAD`)) layouts.set(dir, { gitdir: dir });
  else return { dir }; // not a repo (yet): do not remember
  return layouts.get(dir)!;
}

const FULL_OID = /^[0-9a-f]{40}$/;
const SHORT_OID = /^[0-9a-f]{4,39}$/;

/** Branch, tag, HEAD, full or abbreviated oid -> the commit id it names (tags are peeled). */
export async function resolveCommit(dir: string, rev: string, cache: GitCache = {}): Promise<string> {
  if (!fs.existsSync(`${dir}/.git`) && !fs.existsSync(`${dir}/HEAD`)) {
    throw new NotFoundError(`no git repository at ${dir}`, { dir, rev, missing: 'repo' });
  }
  const oid = await resolveOid(dir, rev);
  return peelToCommit(dir, oid, rev, cache);
}

async function resolveOid(dir: string, rev: string): Promise<string> {
  if (!FULL_OID.test(rev)) {
    try {
      return await git.resolveRef({ fs, ...repoArgs(dir), ref: rev });
    } catch {
      // not a ref; maybe an abbreviated oid
    }
  }
  if (FULL_OID.test(rev)) return rev;
  if (SHORT_OID.test(rev)) {
    try {
      return await git.expandOid({ fs, ...repoArgs(dir), oid: rev });
    } catch (e) {
      throw new NotFoundError(`no commit '${rev}' in ${dir}`, { dir, rev, missing: 'ref' }, { cause: e });
    }
  }
  throw new NotFoundError(`no branch, tag or commit named '${rev}' in ${dir}`, { dir, rev, missing: 'ref' });
}

async function peelToCommit(dir: string, oid: string, rev: string, cache: GitCache): Promise<string> {
  for (let depth = 0; depth < 10; depth++) {
    let obj: Awaited<ReturnType<typeof git.readObject>>;
    try {
      obj = await git.readObject({ fs, ...repoArgs(dir), oid, cache, format: 'parsed' });
    } catch (e) {
      throw new NotFoundError(`no commit '${rev}' in ${dir}`, { dir, rev, missing: 'ref' }, { cause: e });
    }
    if (obj.type === 'commit') return oid;
    if (obj.type === 'tag') {
      oid = (obj.object as { object: string }).object;
      continue;
    }
    throw new NotFoundError(`'${rev}' names a ${obj.type}, not a commit`, { dir, rev });
  }
  throw new NotFoundError(`'${rev}': tag chain too deep`, { dir, rev });
}

/** Does `path` (or a directory that may contain matches) fall under the prefixes? */
function prefixFilter(prefixes: string[] | undefined): { keep: (p: string) => boolean; descend: (p: string) => boolean } {
  if (!prefixes || prefixes.length === 0) return { keep: () => true, descend: () => true };
  const clean = prefixes.map((p) => p.replace(/\/+$/, ''));
  const keep = (p: string) => clean.some((x) => p === x || p.startsWith(x + '/'));
  const descend = (p: string) => keep(p) || clean.some((x) => x.startsWith(p + '/'));
  return { keep, descend };
}

const modeString = (m: number | undefined) => (m === undefined ? '' : m.toString(8));

/** Every blob (and symlink, and submodule entry) of `commit`, with its mode. */
export async function listFiles(dir: string, commit: string, cache: GitCache, opts: PrefixOptions = {}): Promise<TreeFile[]> {
  const filter = prefixFilter(opts.prefixes);
  const out: TreeFile[] = [];
  await git.walk({
    fs,
    ...repoArgs(dir),
    cache,
    trees: [git.TREE({ ref: commit })],
    map: async (path, [entry]) => {
      if (!entry) return null;
      if (path === '.') return true;
      const type = await entry.type();
      if (type === 'tree') return filter.descend(path) ? true : null;
      if (filter.keep(path)) out.push({ path, oid: await entry.oid(), mode: modeString(await entry.mode()) });
      return null;
    },
    reduce: async () => undefined,
  });
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** The changes from `from` to `to`, skipping identical subtrees so cost follows the change. */
export async function diffCommits(dir: string, from: string, to: string, cache: GitCache, opts: PrefixOptions = {}): Promise<TreeChange[]> {
  const filter = prefixFilter(opts.prefixes);
  const out: TreeChange[] = [];
  await git.walk({
    fs,
    ...repoArgs(dir),
    cache,
    trees: [git.TREE({ ref: from }), git.TREE({ ref: to })],
    map: async (path, [a, b]) => {
      if (path === '.') return true;
      const [ta, tb] = [a ? await a.type() : undefined, b ? await b.type() : undefined];
      const [oa, ob] = [a ? await a.oid() : undefined, b ? await b.oid() : undefined];
      if (oa === ob && ta === tb) {
        // Same oid: identical subtree or blob. Mode may still change (e.g. chmod +x).
        if (ta !== 'tree' && a && b && (await a.mode()) !== (await b.mode()) && filter.keep(path)) {
          out.push({ path, change: 'modify', oid: ob, mode: modeString(await b.mode()) });
        }
        return null;
      }
      if (ta === 'tree' || tb === 'tree') {
        // A file replaced by a directory (or back): report the file side here, descend for the rest.
        if (ta !== undefined && ta !== 'tree' && filter.keep(path)) out.push({ path, change: 'delete' });
        if (tb !== undefined && tb !== 'tree' && filter.keep(path)) out.push({ path, change: 'add', oid: ob, mode: modeString(await b!.mode()) });
        return filter.descend(path) ? true : null;
      }
      if (!filter.keep(path)) return null;
      if (!b) out.push({ path, change: 'delete' });
      else out.push({ path, change: a ? 'modify' : 'add', oid: ob, mode: modeString(await b.mode()) });
      return null;
    },
    reduce: async () => undefined,
  });
  return out.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
}

/** The bytes of a blob. */
export async function readBlob(dir: string, oid: string, cache: GitCache): Promise<Uint8Array> {
  const { blob } = await git.readBlob({ fs, ...repoArgs(dir), oid, cache });
  return blob;
}

/** A blob as UTF-8 text (invalid bytes become U+FFFD; use readBlob to check encoding). */
export async function readBlobText(dir: string, oid: string, cache: GitCache): Promise<string> {
  return Buffer.from(await readBlob(dir, oid, cache)).toString('utf8');
}

/**
 * The size of a blob in bytes, read from the object header without inflating
 * the whole object when it is loose (packed objects come back inflated from
 * isomorphic-git, so there the size is simply the content's length).
 */
export async function blobSize(dir: string, oid: string, cache: GitCache): Promise<number> {
  const res = await git.readObject({ fs, ...repoArgs(dir), oid, cache, format: 'deflated' });
  const obj = res.object as Uint8Array;
  if (res.format === 'content') return obj.length;
  if (res.format === 'wrapped') return headerSize(obj, oid);
  // Loose object: inflate only the first bytes, enough to hold "blob <size>\0"
  // (a dynamic Huffman block header can take a few hundred bytes).
  const head = inflateSync(Buffer.from(obj.subarray(0, 1024)), { finishFlush: zlibConstants.Z_SYNC_FLUSH });
  if (head.indexOf(0) >= 0) return headerSize(head, oid);
  return headerSize(inflateSync(Buffer.from(obj)), oid);
}

function headerSize(wrapped: Uint8Array, oid: string): number {
  const nul = wrapped.indexOf(0);
  const header = Buffer.from(wrapped.subarray(0, nul < 0 ? Math.min(wrapped.length, 32) : nul)).toString('latin1');
  const m = /^(blob|tree|commit|tag) (\d+)$/.exec(header);
  if (!m) throw new NotFoundError(`object ${oid}: unreadable header`, { oid });
  return Number(m[2]);
}

/** The commit's tree oid, author/committer and message. */
export async function readCommitInfo(dir: string, oid: string, cache: GitCache) {
  const { commit } = await git.readCommit({ fs, ...repoArgs(dir), oid, cache });
  return commit;
}
