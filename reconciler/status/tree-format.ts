// Pure tree logic: group path changes by directory, merge them into a tree's
// entries, and encode a tree object exactly as git does (so git fsck agrees).
import { InvalidStatusChangeError } from '../../schema/errors.ts';
import { indexOfByte } from '../git/tree.ts';

export interface TreeEntry {
  /** '100644' for files, '40000' for trees (git writes no leading zero). */
  mode: string;
  path: string;
  oid: string;
}

export const TREE_MODE = '40000';
export const FILE_MODE = '100644';

/** Changes under one directory: files set/deleted here, and subdirectories with changes. */
export interface DirChanges {
  files: Map<string, string | null>;
  dirs: Map<string, DirChanges>;
}

const newDir = (): DirChanges => ({ files: new Map(), dirs: new Map() });

const BAD_SEGMENT = /^(\.|\.\.|\.git)$/i;

/** Why a path cannot be written to the status branch, or undefined when it can. */
export function pathProblem(path: string): string | undefined {
  if (!path || path.startsWith('/') || path.endsWith('/')) return 'must be a relative file path';
  if (/[\0\\]/.test(path)) return 'must not contain NUL or backslash';
  // A lone surrogate has no UTF-8 form (it would be written as U+FFFD, so two names could become one).
  if (/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(path)) return 'must be well-formed Unicode';
  for (const seg of path.split('/')) {
    if (!seg) return 'has an empty path segment';
    if (BAD_SEGMENT.test(seg)) return `has a forbidden segment '${seg}'`;
  }
  return undefined;
}

/** path -> blob oid (null deletes) as a directory tree of changes. Paths must pass pathProblem. */
export function groupChanges(changes: ReadonlyMap<string, string | null>): DirChanges {
  const root = newDir();
  for (const [path, oid] of changes) {
    const segs = path.split('/');
    let dir = root;
    for (const seg of segs.slice(0, -1)) {
      let sub = dir.dirs.get(seg);
      if (!sub) dir.dirs.set(seg, (sub = newDir()));
      dir = sub;
    }
    dir.files.set(segs[segs.length - 1], oid);
  }
  return root;
}

/** An entry's sort key: its name's UTF-8 bytes, with '/' after a tree's. */
const sortKey = (e: TreeEntry) => Buffer.from(e.mode === TREE_MODE || e.mode === '040000' ? `${e.path}/` : e.path, 'utf8');

/**
 * git's tree order: byte order of names, with a tree's name compared as if it ended in '/'. Bytes, not
 * JavaScript's string order, which differs above U+FFFF (a surrogate pair sorts before U+E000–U+FFFF).
 */
export function compareEntries(a: TreeEntry, b: TreeEntry): number {
  return Buffer.compare(sortKey(a), sortKey(b));
}

/**
 * The entries of a directory after its changes (the specification of mergeTreeBytes, which the status writer
 * uses; a property test holds the two together): `files` set or delete blobs,
 * `subtrees` give each changed subdirectory's new oid (null: now empty, drop it).
 * Throws when a file and a directory would share a name.
 */
export function mergeEntries(
  base: readonly TreeEntry[],
  files: ReadonlyMap<string, string | null>,
  subtrees: ReadonlyMap<string, string | null>,
): TreeEntry[] {
  const byName = new Map<string, TreeEntry>();
  for (const e of base) byName.set(e.path, e.mode === '040000' ? { ...e, mode: TREE_MODE } : e);
  for (const [name, oid] of files) {
    const old = byName.get(name);
    if (old?.mode === TREE_MODE) throw new InvalidStatusChangeError(`'${name}' is a directory, cannot write a file there`, { name });
    if (oid === null) byName.delete(name);
    else byName.set(name, { mode: old?.mode ?? FILE_MODE, path: name, oid });
  }
  for (const [name, oid] of subtrees) {
    const old = byName.get(name);
    if (old && old.mode !== TREE_MODE) throw new InvalidStatusChangeError(`'${name}' is a file, cannot make it a directory`, { name });
    if (oid === null) byName.delete(name);
    else byName.set(name, { mode: TREE_MODE, path: name, oid });
  }
  // Sort on precomputed keys: compareEntries would build two per comparison.
  const keyed = [...byName.values()].map((e) => [sortKey(e), e] as const);
  keyed.sort((a, b) => Buffer.compare(a[0], b[0]));
  return keyed.map(([, e]) => e);
}

/** The bytes of a tree object (without the "tree <len>\0" header). Entries must be sorted. */
export function encodeTree(entries: readonly TreeEntry[]): Buffer {
  // Written into one buffer (a status tree holds thousands of records: two small buffers each added up).
  let size = 0;
  for (const e of entries) size += Buffer.byteLength(e.mode) + Buffer.byteLength(e.path) + 2 + 20;
  const out = Buffer.allocUnsafe(size);
  let o = 0;
  for (const e of entries) {
    o += out.write(`${e.mode} ${e.path}\0`, o, 'utf8');
    const n = out.write(e.oid, o, 'hex');
    if (n !== 20 || e.oid.length !== 40) throw new TypeError(`tree entry '${e.path}': oid '${e.oid}' is not 40 hex digits`);
    o += n;
  }
  return out;
}

interface ByteChange {
  name: string;
  /** The name's UTF-8 bytes, with '/' after a tree's (git's sort key). */
  key: Buffer;
  tree: boolean;
  oid: string | null;
}

/** The changes of one directory in git's tree order (byte order of their keys), conflicts refused as mergeEntries does. */
function sortedChanges(files: ReadonlyMap<string, string | null>, subtrees: ReadonlyMap<string, string | null>): ByteChange[] {
  const out: ByteChange[] = [];
  for (const [name, oid] of files) out.push({ name, key: Buffer.from(name, 'utf8'), tree: false, oid });
  for (const [name, oid] of subtrees) {
    if (files.get(name)) throw new InvalidStatusChangeError(`'${name}' is a file, cannot make it a directory`, { name });
    out.push({ name, key: Buffer.from(`${name}/`, 'utf8'), tree: true, oid });
  }
  return out.sort((a, b) => Buffer.compare(a.key, b.key));
}

/** Compare an entry's git sort key (the name bytes [from, to) of `raw`, then '/' for a tree) with `key`, as bytes. */
function compareRawKey(raw: Buffer, from: number, to: number, tree: boolean, key: Buffer): number {
  const n = to - from + (tree ? 1 : 0);
  const m = Math.min(n, key.length);
  for (let j = 0; j < m; j++) {
    const b = from + j < to ? raw[from + j] : 0x2f;
    if (b !== key[j]) return b - key[j];
  }
  return n - key.length;
}

/**
 * mergeEntries on a tree's raw bytes: the same result as encodeTree(mergeEntries(parse(base), …)), but the
 * entries nothing changes are copied as bytes, not parsed into objects (the status branch's builds/ directory
 * holds one entry per build: tens of thousands, of which a status commit changes a few hundred).
 */
export function mergeTreeBytes(base: Buffer, files: ReadonlyMap<string, string | null>, subtrees: ReadonlyMap<string, string | null>): Buffer {
  const changes = sortedChanges(files, subtrees);
  const parts: Buffer[] = [];
  let copyFrom = 0; // the start of base bytes not yet copied
  let c = 0;
  const emit = (ch: ByteChange, oldMode?: string) => {
    if (ch.oid === null) return;
    parts.push(encodeTree([{ mode: ch.tree ? TREE_MODE : (oldMode ?? FILE_MODE), path: ch.name, oid: ch.oid }]));
  };
  for (let i = 0; i < base.length; ) {
    const space = indexOfByte(base, 32, i);
    const nul = space < 0 ? -1 : indexOfByte(base, 0, space);
    if (nul < 0 || nul + 21 > base.length) throw new TypeError('a malformed tree object');
    // A tree's mode is 40000 (or 040000, which some tools wrote; copied as written); a file's starts with 1.
    const tree = base[i] === 0x34 || base[i] === 0x30;
    const end = nul + 21;
    // A file and a directory may not share a name (only names a change could clash with are decoded).
    if ((tree && files.size > 0) || (!tree && subtrees.size > 0)) {
      const name = base.toString('utf8', space + 1, nul);
      if (tree && files.has(name)) throw new InvalidStatusChangeError(`'${name}' is a directory, cannot write a file there`, { name });
      if (!tree && subtrees.has(name) && files.get(name) !== null) throw new InvalidStatusChangeError(`'${name}' is a file, cannot make it a directory`, { name });
    }
    let same = false;
    for (; c < changes.length; c++) {
      const order = compareRawKey(base, space + 1, nul, tree, changes[c].key);
      if (order < 0) break;
      if (i > copyFrom) parts.push(base.subarray(copyFrom, i));
      copyFrom = i;
      if (order === 0) {
        emit(changes[c++], tree ? undefined : base.toString('latin1', i, space));
        same = true;
        break;
      }
      emit(changes[c]);
    }
    if (same) copyFrom = end;
    i = end;
  }
  if (base.length > copyFrom) parts.push(base.subarray(copyFrom));
  for (; c < changes.length; c++) emit(changes[c]);
  return parts.length === 1 ? parts[0] : Buffer.concat(parts);
}
