// Read-only git primitives over isomorphic-git: resolve a revision, list the
// blobs of a commit, read blobs, diff two commits. No checkout, no work tree.
// Every call takes one shared `cache` object: isomorphic-git keeps parsed
// packfile indexes there, which makes repeated reads ~20x faster.
import fs from 'node:fs';
import git from 'isomorphic-git';
import { NotFoundError } from '../../schema/errors.ts';
import { printable, quote } from '../../schema/quote.ts';
import './native-inflate.ts';
import { objectStore, type Sized } from './object-store.ts';

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

export const MODE = { file: '100644', executable: '100755', symlink: '120000', submodule: '160000', tree: '040000' } as const;

/** Why a tree entry of this mode is not a regular file (undefined: it is one). */
export function notAFile(mode: string): string | undefined {
  if (mode === MODE.file || mode === MODE.executable) return undefined;
  if (mode === MODE.symlink) return `a symbolic link (mode ${mode}), not a file`;
  if (mode === MODE.submodule) return `a git submodule (mode ${mode}), not a file`;
  if (mode === MODE.tree) return 'a directory, not a file';
  return `an entry of mode ${mode}, not a file`;
}

/**
 * The listed entry at `path` among `files` (from listFiles), as a file or the reason it is not
 * one: a directory shows up only as files below it, so that is looked for too.
 */
export function fileAt(files: TreeFile[], path: string): { oid: string } | { problem: string } | undefined {
  const hit = files.find((f) => f.path === path);
  if (hit) {
    const why = notAFile(hit.mode);
    return why ? { problem: `${path} is ${why}` } : { oid: hit.oid };
  }
  if (files.some((f) => f.path.startsWith(path + '/'))) return { problem: `${path} is ${notAFile(MODE.tree)}` };
  return undefined;
}

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
    throw new NotFoundError(`no git repository at ${printable(dir)}`, { dir, rev, missing: 'repo' });
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
      throw new NotFoundError(`no commit ${quote(rev)} in ${printable(dir)}`, { dir, rev, missing: 'ref' }, { cause: e });
    }
  }
  throw new NotFoundError(`no branch, tag or commit named ${quote(rev)} in ${printable(dir)}`, { dir, rev, missing: 'ref' });
}

// Through the session's object store (which has the pack indexes already): isomorphic-git's
// readObject would load every pack index a second time for the first commit it reads.
async function peelToCommit(dir: string, oid: string, rev: string, cache: GitCache): Promise<string> {
  for (let depth = 0; depth < 10; depth++) {
    let obj: { type: string; body: Buffer };
    try {
      obj = await readRawObject(dir, oid, cache);
    } catch (e) {
      throw new NotFoundError(`no commit ${quote(rev)} in ${printable(dir)}`, { dir, rev, missing: 'ref' }, { cause: e });
    }
    if (obj.type === 'commit') return oid;
    if (obj.type === 'tag') {
      const target = /^object ([0-9a-f]{40})/.exec(obj.body.toString('latin1', 0, 47))?.[1];
      if (!target) throw new NotFoundError(`tag ${oid} names no object`, { dir, rev });
      oid = target;
      continue;
    }
    throw new NotFoundError(`${quote(rev)} names a ${obj.type}, not a commit`, { dir, rev });
  }
  throw new NotFoundError(`${quote(rev)}: tag chain too deep`, { dir, rev });
}

/** Does `path` (or a directory that may contain matches) fall under the prefixes? */
function prefixFilter(prefixes: string[] | undefined): { keep: (p: string) => boolean; descend: (p: string) => boolean } {
  const clean = (prefixes ?? []).map((p) => p.replace(/\/+$/, ''));
  // No prefixes, or an empty one ('' or '/'), is the whole tree: listFiles and diffCommits agree on it.
  if (clean.length === 0 || clean.includes('')) return { keep: () => true, descend: () => true };
  const under = clean.map((x) => x + '/');
  const keep = (p: string) => clean.some((x, i) => p === x || p.startsWith(under[i]));
  const descend = (p: string) => keep(p) || clean.some((x) => x.startsWith(p + '/'));
  return { keep, descend };
}

interface TreeEntry {
  mode: string;
  path: string;
  oid: string;
  type: 'blob' | 'tree' | 'commit';
}

// Trees are immutable, so parsed trees are kept per cache object: a pass that
// diffs against the previous commit parses only the trees that are new. Bounded
// by total entries (a 10k-file directory is one 10k-entry tree).
const parsedTrees = new WeakMap<GitCache, { entries: number; trees: Map<string, TreeEntry[]> }>();
const MAX_CACHED_ENTRIES = 200_000;

function remember(cache: GitCache, oid: string, tree: TreeEntry[]): TreeEntry[] {
  let memo = parsedTrees.get(cache);
  if (!memo) parsedTrees.set(cache, (memo = { entries: 0, trees: new Map() }));
  for (const [old, t] of memo.trees) {
    if (memo.entries + tree.length <= MAX_CACHED_ENTRIES) break;
    memo.trees.delete(old);
    memo.entries -= t.length;
  }
  memo.trees.set(oid, tree);
  memo.entries += tree.length;
  return tree;
}

/** An object's type and content, through the session's object store. */
async function readRawObject(dir: string, oid: string, cache: GitCache): Promise<{ type: string; body: Buffer }> {
  return objectStore(dir, cache).read(oid);
}

/** git's tree format: repeated "<octal mode> <name>\0<20-byte oid>". */
/**
 * `body.indexOf(byte, from)`: a plain loop for the short hops between a tree entry's fields (Buffer's
 * indexOf validates its arguments and crosses into C++ on every call: ≈ 3% of a cold plan's CPU
 * profile on a 10,000-entry tree). A negative `from` (a malformed tree) is left to indexOf.
 */
export function indexOfByte(body: Buffer, byte: number, from: number): number {
  if (from < 0) return body.indexOf(byte, from);
  for (let j = from; j < body.length; j++) if (body[j] === byte) return j;
  return -1;
}

export function parseTreeObject(body: Buffer): TreeEntry[] {
  const out: TreeEntry[] = [];
  let i = 0;
  while (i < body.length) {
    const space = indexOfByte(body, 32, i);
    const nul = indexOfByte(body, 0, space);
    const raw = body.toString('latin1', i, space);
    const mode = raw === '40000' ? '040000' : raw;
    const path = body.toString('utf8', space + 1, nul);
    const oid = body.toString('hex', nul + 1, nul + 21);
    out.push({ mode, path, oid, type: mode === '040000' ? 'tree' : mode === '160000' ? 'commit' : 'blob' });
    i = nul + 21;
  }
  return out;
}

/** The tree object `oid` names (a tree, or a commit's tree): its oid and raw body. */
async function rawTree(dir: string, oid: string, cache: GitCache): Promise<{ oid: string; body: Buffer }> {
  const { type, body } = await readRawObject(dir, oid, cache);
  if (type === 'commit') {
    const tree = /^tree ([0-9a-f]{40})/.exec(body.toString('latin1', 0, 46))?.[1];
    if (!tree) throw new NotFoundError(`commit ${oid} has no tree`, { oid });
    return rawTree(dir, tree, cache);
  }
  if (type !== 'tree') throw new NotFoundError(`object ${oid} is a ${type}, not a tree`, { oid });
  return { oid, body };
}

/** Tree entries of a tree (or of a commit's tree), parsed once per cache. */
async function readTreeEntries(dir: string, oid: string, cache: GitCache): Promise<TreeEntry[]> {
  const hit = parsedTrees.get(cache)?.trees.get(oid);
  if (hit) return hit;
  const tree = await rawTree(dir, oid, cache);
  return parsedTrees.get(cache)?.trees.get(tree.oid) ?? remember(cache, tree.oid, parseTreeObject(tree.body));
}

const isTree = (e: { type: string }) => e.type === 'tree';
const byPath = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
const join = (base: string, name: string) => (base ? `${base}/${name}` : name);

/**
 * Every blob (and symlink, and submodule entry) of `commit`, with its mode.
 * Reads tree objects directly (git.readTree) rather than through git.walk:
 * on a flat 2,000-file directory that is several times cheaper (scripts/bench-desired.ts).
 */
export async function listFiles(dir: string, commit: string, cache: GitCache, opts: PrefixOptions = {}): Promise<TreeFile[]> {
  const filter = prefixFilter(opts.prefixes);
  const out: TreeFile[] = [];
  // `kept`: the directory is under a prefix, so everything below it is (10,000 files need no check each).
  const visit = async (treeOid: string, base: string, kept: boolean): Promise<void> => {
    const subtrees: Array<Promise<void>> = [];
    for (const e of await readTreeEntries(dir, treeOid, cache)) {
      const path = join(base, e.path);
      if (isTree(e)) {
        if (kept || filter.descend(path)) subtrees.push(visit(e.oid, path, kept || filter.keep(path)));
      } else if (kept || filter.keep(path)) {
        out.push({ path, oid: e.oid, mode: e.mode });
      }
    }
    await Promise.all(subtrees);
  };
  await visit(commit, '', filter.keep(''));
  return out.sort(byPath);
}

// Raw tree objects for diffs, kept per cache object like the parsed ones (bounded by bytes):
// two trees are compared byte-wise entry by entry, and only entries that differ are decoded,
// so a one-file change in a 10,000-entry directory allocates for that one entry.
const rawTrees = new WeakMap<GitCache, { bytes: number; trees: Map<string, Buffer> }>();
const MAX_CACHED_BYTES = 32 * 2 ** 20;

async function readTreeBody(dir: string, oid: string, cache: GitCache): Promise<Buffer> {
  let memo = rawTrees.get(cache);
  const hit = memo?.trees.get(oid);
  if (hit) return hit;
  const tree = await rawTree(dir, oid, cache);
  const known = memo?.trees.get(tree.oid);
  if (known) return known;
  const body = tree.body;
  if (!memo) rawTrees.set(cache, (memo = { bytes: 0, trees: new Map() }));
  for (const [old, t] of memo.trees) {
    if (memo.bytes + body.length <= MAX_CACHED_BYTES) break;
    memo.trees.delete(old);
    memo.bytes -= t.length;
  }
  const own = Buffer.from(body); // not a view into a whole pack
  memo.trees.set(tree.oid, own);
  memo.bytes += own.length;
  return own;
}

/** Where one entry of a raw tree sits: "<mode> <name>\0<20-byte oid>". */
interface RawEntry {
  start: number;
  space: number;
  nul: number;
  tree: boolean;
}

function rawEntryAt(body: Buffer, i: number): RawEntry | undefined {
  if (i >= body.length) return undefined;
  const space = body.indexOf(32, i);
  const nul = body.indexOf(0, space);
  if (space < 0 || nul < 0 || nul + 21 > body.length) throw new NotFoundError('malformed tree object', {});
  return { start: i, space, nul, tree: space - i === 5 && body.readUInt32BE(i) === 0x34303030 && body[i + 4] === 0x30 }; // "40000"
}

function decodeEntry(body: Buffer, e: RawEntry): TreeEntry {
  const raw = body.toString('latin1', e.start, e.space);
  const mode = raw === '40000' ? '040000' : raw;
  return { mode, path: body.toString('utf8', e.space + 1, e.nul), oid: body.toString('hex', e.nul + 1, e.nul + 21), type: e.tree ? 'tree' : mode === '160000' ? 'commit' : 'blob' };
}

/** git's order of tree entries: by name bytes, a tree's name read as if it ended in "/". */
function compareRaw(a: Buffer, ea: RawEntry, b: Buffer, eb: RawEntry): number {
  const la = ea.nul - ea.space - 1;
  const lb = eb.nul - eb.space - 1;
  const n = Math.min(la, lb);
  const c = a.compare(b, eb.space + 1, eb.space + 1 + n, ea.space + 1, ea.space + 1 + n);
  if (c !== 0) return c;
  const ca = la > n ? a[ea.space + 1 + n] : ea.tree ? 0x2f : 0;
  const cb = lb > n ? b[eb.space + 1 + n] : eb.tree ? 0x2f : 0;
  return ca - cb;
}

/** Thrown when a tree is not in git's order: the caller compares it by name instead. */
class UnsortedTree extends Error {}

const CHUNK = 4096;

/** How many leading bytes a and b share (memcmp of chunks, then a binary search in the first unequal one). */
function sharedPrefix(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  let at = 0;
  while (at < n && a.compare(b, at, Math.min(at + CHUNK, n), at, Math.min(at + CHUNK, n)) === 0) at += CHUNK;
  if (at >= n) return n;
  let lo = at;
  let hi = Math.min(at + CHUNK, n);
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (a.compare(b, lo, mid, lo, mid) === 0) lo = mid;
    else hi = mid;
  }
  return a[lo] === b[lo] ? hi : lo;
}

/** How many trailing bytes a and b share. */
function sharedSuffix(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  let k = 0;
  while (k < n) {
    const step = Math.min(CHUNK, n - k);
    if (a.compare(b, b.length - k - step, b.length - k, a.length - k - step, a.length - k) !== 0) break;
    k += step;
  }
  while (k < n && a[a.length - 1 - k] === b[b.length - 1 - k]) k++;
  return k;
}

/**
 * The entries that differ between two raw trees, as [left, right] pairs (one side absent for an
 * entry only on the other). A file and a directory of the same name are two entries, as in git.
 * Entries in the bytes both trees share at their start and end are skipped unread.
 */
function rawDelta(a: Buffer, b: Buffer): Array<[TreeEntry | undefined, TreeEntry | undefined]> {
  const out: Array<[TreeEntry | undefined, TreeEntry | undefined]> = [];
  // The entry holding the first differing byte starts at the same offset in both.
  const differ = sharedPrefix(a, b);
  let start = 0;
  let before: RawEntry | undefined;
  for (;;) {
    const nul = a.indexOf(0, start);
    if (nul < 0 || nul + 21 > differ) break;
    before = rawEntryAt(a, start);
    start = nul + 21;
  }
  const tail = sharedSuffix(a, b);
  const next = (body: Buffer, e: RawEntry) => {
    const n = rawEntryAt(body, e.nul + 21);
    if (n && compareRaw(body, e, body, n) >= 0) throw new UnsortedTree();
    return n;
  };
  let ea = before ? next(a, before) : rawEntryAt(a, 0);
  let eb = before ? next(b, before) : rawEntryAt(b, 0);
  while (ea || eb) {
    // The rest is the same bytes on both sides: the same entries.
    if (ea && eb && a.length - ea.start === b.length - eb.start && a.length - ea.start <= tail) break;
    const c = !ea ? 1 : !eb ? -1 : compareRaw(a, ea, b, eb);
    if (c < 0) {
      out.push([decodeEntry(a, ea!), undefined]);
      ea = next(a, ea!);
    } else if (c > 0) {
      out.push([undefined, decodeEntry(b, eb!)]);
      eb = next(b, eb!);
    } else {
      // Same name: the same mode and oid bytes mean the same blob or subtree.
      if (a.compare(b, eb!.start, eb!.nul + 21, ea!.start, ea!.nul + 21) !== 0) out.push([decodeEntry(a, ea!), decodeEntry(b, eb!)]);
      ea = next(a, ea!);
      eb = next(b, eb!);
    }
  }
  return out;
}

/** The same pairs from parsed trees, matched by name: for trees not in git's order. */
function parsedDelta(ea: TreeEntry[], eb: TreeEntry[]): Array<[TreeEntry | undefined, TreeEntry | undefined]> {
  const left = new Map(ea.map((e) => [e.path, e]));
  const out: Array<[TreeEntry | undefined, TreeEntry | undefined]> = [];
  for (const r of eb) {
    const l = left.get(r.path);
    left.delete(r.path);
    if (l && l.oid === r.oid && l.mode === r.mode) continue;
    if (l && isTree(l) !== isTree(r)) out.push([l, undefined], [undefined, r]);
    else out.push([l, r]);
  }
  for (const l of left.values()) out.push([l, undefined]);
  return out;
}

async function treeDelta(dir: string, a: string | undefined, b: string | undefined, cache: GitCache): Promise<Array<[TreeEntry | undefined, TreeEntry | undefined]>> {
  const [ra, rb] = await Promise.all([a ? readTreeBody(dir, a, cache) : Buffer.alloc(0), b ? readTreeBody(dir, b, cache) : Buffer.alloc(0)]);
  try {
    return rawDelta(ra, rb);
  } catch (e) {
    if (!(e instanceof UnsortedTree)) throw e;
    return parsedDelta(a ? await readTreeEntries(dir, a, cache) : [], b ? await readTreeEntries(dir, b, cache) : []);
  }
}

/**
 * The changes from `from` to `to` (commits or trees; `from` undefined: everything is added).
 * Subtrees with the same oid are skipped without being read, and a changed tree is compared
 * byte-wise, so the cost follows the change, not the repo size.
 */
export async function diffCommits(dir: string, from: string | undefined, to: string, cache: GitCache, opts: PrefixOptions = {}): Promise<TreeChange[]> {
  const filter = prefixFilter(opts.prefixes);
  const out: TreeChange[] = [];
  const everything = async (e: TreeEntry, path: string, change: 'add' | 'delete'): Promise<void> => {
    if (!isTree(e)) {
      if (filter.keep(path)) out.push(change === 'add' ? { path, change, oid: e.oid, mode: e.mode } : { path, change });
      return;
    }
    if (!filter.descend(path)) return;
    await Promise.all((await readTreeEntries(dir, e.oid, cache)).map((c) => everything(c, join(path, c.path), change)));
  };
  const compare = async (a: string | undefined, b: string | undefined, base: string): Promise<void> => {
    const work: Array<Promise<void>> = [];
    for (const [l, r] of await treeDelta(dir, a, b, cache)) {
      const path = join(base, (r ?? l)!.path);
      if (l && r && isTree(l) && isTree(r)) {
        if (filter.descend(path)) work.push(compare(l.oid, r.oid, path));
      } else if (l && r && !isTree(l) && !isTree(r)) {
        if (filter.keep(path)) out.push({ path, change: 'modify', oid: r.oid, mode: r.mode });
      } else {
        // Added, deleted, or a file became a directory (or back): delete one side, add the other.
        if (l) work.push(everything(l, path, 'delete'));
        if (r) work.push(everything(r, path, 'add'));
      }
    }
    await Promise.all(work);
  };
  if (from !== to) await compare(from, to, '');
  return out.sort(byPath);
}

/** The bytes of a blob. */
export async function readBlob(dir: string, oid: string, cache: GitCache): Promise<Uint8Array> {
  const { type, body } = await objectStore(dir, cache).read(oid);
  if (type !== 'blob') throw new NotFoundError(`object ${oid} is a ${type}, not a file`, { oid });
  return body;
}

/** A blob as UTF-8 text (invalid bytes become U+FFFD; use readBlob to check encoding). */
export async function readBlobText(dir: string, oid: string, cache: GitCache): Promise<string> {
  return Buffer.from(await readBlob(dir, oid, cache)).toString('utf8');
}

/** The size of a blob in bytes, read from the object header without inflating a loose object's content. */
export async function blobSize(dir: string, oid: string, cache: GitCache): Promise<number> {
  return (await readBlobWithin(dir, oid, cache, 0)).size;
}

/**
 * A blob's bytes if it is at most `maxBytes` long, else only its size: an
 * oversized loose object is never inflated past its header. One object read
 * serves both the size check and the content.
 */
export async function readBlobWithin(dir: string, oid: string, cache: GitCache, maxBytes: number): Promise<{ size: number; bytes?: Uint8Array }> {
  return blobWithin(oid, await objectStore(dir, cache).readWithin(oid, maxBytes), maxBytes);
}

function blobWithin(oid: string, o: Sized, maxBytes: number): { size: number; bytes?: Uint8Array } {
  if (o.type !== 'blob') throw new NotFoundError(`object ${oid} is a ${o.type}, not a file`, { oid });
  return o.body && o.size <= maxBytes ? { size: o.size, bytes: o.body } : { size: o.size };
}

/**
 * readBlobWithin without a promise for a blob in a pack already indexed (after `prepareObjects`),
 * else undefined: then readBlobWithin looks further (loose objects, new packs).
 */
export function readPackedBlobWithin(dir: string, oid: string, cache: GitCache, maxBytes: number): { size: number; bytes?: Uint8Array } | undefined {
  const o = objectStore(dir, cache).packedWithin(oid);
  return o && blobWithin(oid, o, maxBytes);
}

/** Index the repository's packs once, so readPackedBlobWithin can answer. */
export function prepareObjects(dir: string, cache: GitCache): Promise<void> {
  return objectStore(dir, cache).ready();
}

/** The commit's tree oid, author/committer and message. */
export async function readCommitInfo(dir: string, oid: string, cache: GitCache) {
  const { commit } = await git.readCommit({ fs, ...repoArgs(dir), oid, cache });
  return commit;
}
