// Read-only access to a repository's objects for the hot read paths (listing
// trees, reading metadata and status files). isomorphic-git's readObject costs
// a failed open of the loose path, a readdir of objects/pack and two stats per
// object; over 10k files that was ~40% of a cold plan (CPU profile,
// scripts/bench-plan). Here each pack's index and bytes are loaded once per
// cache, a packed object is found by binary search and inflated with node's
// zlib in place, and only a miss touches the file system. Anything this reader
// does not know (alternates, a damaged pack) falls back to isomorphic-git.
import fs from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { isAbsolute, join } from 'node:path';
import { constants as zlibConstants, inflateSync } from 'node:zlib';
import { inflateObject } from './inflate-object.ts';
import git from 'isomorphic-git';
import { NotFoundError } from '../../schema/errors.ts';

export type ObjectType = 'blob' | 'tree' | 'commit' | 'tag';

export interface RawObject {
  type: ObjectType;
  body: Buffer;
}

/** An object's type and size, with its content unless it was over the caller's limit. */
export interface Sized {
  type: ObjectType;
  size: number;
  body?: Buffer;
}

const TYPES: Record<number, ObjectType> = { 1: 'commit', 2: 'tree', 3: 'blob', 4: 'tag' };
const TYPE_NAMES = new Set(Object.values(TYPES));
const OFS_DELTA = 6;
const REF_DELTA = 7;
/** Inflated delta bases kept per pack: chains share their bases. */
const MAX_BASES = 256;

/** One packfile: its .idx (v2) parsed enough to find an oid, and its bytes. */
class Pack {
  private readonly count: number;
  private readonly fanout: Uint32Array;
  private readonly names: Buffer;
  private readonly offsets: Buffer;
  private readonly large: Buffer;
  /** Start offsets in ascending order: an entry ends where the next begins. */
  private sortedStarts?: Float64Array;
  private readonly bases = new Map<number, RawObject>();

  constructor(
    idx: Buffer,
    private readonly pack: Buffer,
  ) {
    if (idx.readUInt32BE(0) !== 0xff744f63 || idx.readUInt32BE(4) !== 2) throw new Error('not a version 2 pack index');
    this.fanout = new Uint32Array(256);
    for (let i = 0; i < 256; i++) this.fanout[i] = idx.readUInt32BE(8 + i * 4);
    this.count = this.fanout[255];
    const names = 8 + 256 * 4;
    this.names = idx.subarray(names, names + this.count * 20);
    const offsets = names + this.count * 24; // past names and CRCs
    this.offsets = idx.subarray(offsets, offsets + this.count * 4);
    this.large = idx.subarray(offsets + this.count * 4);
  }

  /** The pack offset of `oid` (20 bytes), or -1. */
  find(oid: Uint8Array): number {
    const names = this.names;
    let lo = oid[0] === 0 ? 0 : this.fanout[oid[0] - 1];
    let hi = this.fanout[oid[0]];
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      // Compared here, not by Buffer#compare: a native call per step cost more than the bytes (they differ early).
      let c = 0;
      for (let j = 0, at = mid * 20; j < 20 && c === 0; j++) c = names[at + j] - oid[j];
      if (c === 0) return this.offsetAt(mid);
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }

  private offsetAt(i: number): number {
    const v = this.offsets.readUInt32BE(i * 4);
    if (!(v & 0x80000000)) return v;
    return Number(this.large.readBigUInt64BE((v & 0x7fffffff) * 8));
  }

  private endOf(start: number): number {
    if (!this.sortedStarts) {
      const s = new Float64Array(this.count);
      for (let i = 0; i < this.count; i++) s[i] = this.offsetAt(i);
      this.sortedStarts = s.sort();
    }
    const s = this.sortedStarts;
    let lo = 0;
    let hi = s.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (s[mid] <= start) lo = mid + 1;
      else hi = mid;
    }
    return lo < s.length ? s[lo] : this.pack.length - 20;
  }

  /** The object at `offset`, deltas resolved (REF_DELTA bases through `external`). */
  read(offset: number, external: (oid: string) => RawObject | undefined): RawObject {
    const cached = this.bases.get(offset);
    if (cached) return cached;
    const p = this.pack;
    let i = offset;
    let byte = p[i++];
    const kind = (byte >> 4) & 7;
    let size = byte & 0x0f;
    for (let shift = 4; byte & 0x80; shift += 7) {
      byte = p[i++];
      size += (byte & 0x7f) * 2 ** shift; // the inflated size
    }
    let base: RawObject | undefined;
    if (kind === OFS_DELTA) {
      byte = p[i++];
      let back = byte & 0x7f;
      while (byte & 0x80) {
        byte = p[i++];
        back = (back + 1) * 128 + (byte & 0x7f);
      }
      base = this.read(offset - back, external);
    } else if (kind === REF_DELTA) {
      const baseOid = p.toString('hex', i, i + 20);
      i += 20;
      base = external(baseOid);
      if (!base) throw new Error(`delta base ${baseOid} not found`);
    }
    const data = inflateObject(p.subarray(i, this.endOf(offset)), size);
    const obj: RawObject = base ? { type: base.type, body: applyDelta(data, base.body) } : { type: TYPES[kind] ?? fail(kind), body: data };
    if (base) this.keepBase(offset, obj);
    return obj;
  }

  private keepBase(offset: number, obj: RawObject): void {
    if (this.bases.size >= MAX_BASES) this.bases.delete(this.bases.keys().next().value!);
    this.bases.set(offset, obj);
  }
}

function fail(kind: number): never {
  throw new Error(`unknown pack object type ${kind}`);
}

/** Below this many bytes a copy is a JS loop: Buffer#copy is a native call costing more than the bytes. */
const SMALL_COPY = 64;

function copyBytes(from: Uint8Array, start: number, end: number, to: Uint8Array, at: number): number {
  if (end > from.length) throw new Error('delta instruction reads past its input');
  if (end - start < SMALL_COPY) for (let k = start; k < end; k++) to[at++] = from[k];
  else to.set(from.subarray(start, end), at);
  return end - start;
}

/** A delta header's size (a little-endian base-128 varint) at `i`, and the index after it. */
function sizeAt(d: Buffer, i: number): [number, number] {
  let v = 0;
  for (let shift = 0; ; shift += 7) {
    const byte = d[i++];
    v += (byte & 0x7f) * 2 ** shift;
    if (!(byte & 0x80)) return [v, i];
  }
}

/** git's delta format: source size, target size, then copy (from source) and insert instructions. */
export function applyDelta(delta: Buffer, source: Buffer): Buffer {
  const [sourceSize, afterSource] = sizeAt(delta, 0);
  const [targetSize, afterTarget] = sizeAt(delta, afterSource);
  let i = afterTarget;
  if (sourceSize !== source.length) throw new Error('delta source size mismatch');
  const out = Buffer.allocUnsafe(targetSize);
  let o = 0;
  while (i < delta.length) {
    const op = delta[i++];
    if (op & 0x80) {
      let off = 0;
      let size = 0;
      for (let b = 0; b < 4; b++) if (op & (1 << b)) off |= delta[i++] << (8 * b);
      for (let b = 0; b < 3; b++) if (op & (0x10 << b)) size |= delta[i++] << (8 * b);
      off >>>= 0;
      if (size === 0) size = 0x10000;
      if (o + size > targetSize) throw new Error('delta target size mismatch');
      o += copyBytes(source, off, off + size, out, o);
    } else if (op > 0) {
      if (o + op > targetSize) throw new Error('delta target size mismatch');
      o += copyBytes(delta, i, i + op, out, o);
      i += op;
    } else throw new Error('delta opcode 0');
  }
  if (o !== out.length) throw new Error('delta target size mismatch');
  return out;
}

/** Scratch for oidBytes: a lookup is done with it before anything can ask again. */
const OID = new Uint8Array(20);

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1; // git writes object names in lower case
}

/**
 * The 20 bytes of a full lower-case hex object name, decoded into a shared scratch array: a cold
 * read looks up 10,000 blobs, and Buffer.from(oid, 'hex') allocated a buffer for each (≈ 4% of its
 * profile). Anything else is decoded as before.
 */
function oidBytes(oid: string): Uint8Array {
  if (oid.length !== 40) return Buffer.from(oid, 'hex');
  for (let i = 0; i < 20; i++) {
    const hi = hexDigit(oid.charCodeAt(2 * i));
    const lo = hexDigit(oid.charCodeAt(2 * i + 1));
    if (hi < 0 || lo < 0) return Buffer.from(oid, 'hex');
    OID[i] = (hi << 4) | lo;
  }
  return OID;
}

/** The objects of one repository (its git dir), packs loaded on first use. */
export class ObjectStore {
  private packs: Pack[] = [];
  private packNames = new Set<string>();
  private scanned?: Promise<void>;

  constructor(
    readonly gitdir: string,
    private readonly cache: object,
  ) {}

  /** Load packs not seen before (a gc or a fetch adds them; removed ones stay valid in memory). */
  private async scan(): Promise<void> {
    const dir = join(this.gitdir, 'objects', 'pack');
    const names = await readdir(dir).catch(() => [] as string[]);
    for (const name of names) {
      if (!name.endsWith('.idx') || this.packNames.has(name)) continue;
      try {
        const [idx, pack] = await Promise.all([readFile(join(dir, name)), readFile(join(dir, name.replace(/\.idx$/, '.pack')))]);
        this.packs.push(new Pack(idx, pack));
        this.packNames.add(name);
      } catch {
        // Half-written by a concurrent repack, or another index version: isomorphic-git reads it.
      }
    }
  }

  private fromPacks(oid: string): RawObject | undefined {
    const key = oidBytes(oid);
    for (const pack of this.packs) {
      const at = pack.find(key);
      if (at >= 0) return pack.read(at, (base) => this.fromPacks(base));
    }
    return undefined;
  }

  /**
   * A loose object; past `maxBytes` only its header is inflated (a dynamic Huffman block
   * header can take a few hundred bytes, so the first KiB holds "<type> <size>\0").
   */
  private async loose(oid: string, maxBytes: number): Promise<Sized | undefined> {
    let file: Buffer;
    try {
      file = await readFile(join(this.gitdir, 'objects', oid.slice(0, 2), oid.slice(2)));
    } catch {
      return undefined;
    }
    let head = file.length > 1024 ? inflateSync(file.subarray(0, 1024), { finishFlush: zlibConstants.Z_SYNC_FLUSH }) : inflateSync(file);
    if (head.indexOf(0) < 0) head = inflateSync(file);
    const space = head.indexOf(32);
    const nul = head.indexOf(0, space);
    const type = head.toString('latin1', 0, space) as ObjectType;
    const size = Number(head.toString('latin1', space + 1, nul));
    if (!TYPE_NAMES.has(type) || !Number.isSafeInteger(size)) throw new NotFoundError(`object ${oid}: unreadable header`, { oid });
    if (size > maxBytes) return { type, size };
    const wrapped = head.length >= nul + 1 + size ? head : inflateSync(file);
    return { type, size, body: wrapped.subarray(nul + 1, nul + 1 + size) };
  }

  /** Load the pack indexes (once per store): afterwards packedWithin can answer without waiting. */
  async ready(): Promise<void> {
    await (this.scanned ??= this.scan());
  }

  /**
   * A packed object (the usual case) without a promise: a cold read of 10,000 files otherwise
   * pays an async round per file for work that is all synchronous. Undefined before ready() or
   * when the object is not in a known pack (then readWithin looks further).
   */
  packedWithin(oid: string): Sized | undefined {
    return this.scanned ? this.packed(oid) : undefined;
  }

  /** An object's type and content. */
  async read(oid: string): Promise<RawObject> {
    const o = await this.readWithin(oid, Infinity);
    return o as RawObject;
  }

  /** An object's type and size, and its content when at most `maxBytes` long (a loose one is not inflated past that). */
  async readWithin(oid: string, maxBytes: number): Promise<Sized> {
    await (this.scanned ??= this.scan());
    const hit = this.packed(oid) ?? (await this.loose(oid, maxBytes));
    if (hit) return hit;
    // Packed since the last scan (gc, fetch) or somewhere only isomorphic-git looks.
    await this.scan();
    const again = this.packed(oid) ?? (await this.loose(oid, maxBytes));
    if (again) return again;
    try {
      const res = await git.readObject({ fs, gitdir: this.gitdir, oid, cache: this.cache, format: 'content' });
      const o = res.object as Uint8Array;
      const body = Buffer.from(o.buffer, o.byteOffset, o.byteLength);
      return { type: res.type as ObjectType, size: body.length, body };
    } catch (e) {
      throw new NotFoundError(`object ${oid} not found`, { oid }, { cause: e });
    }
  }

  private packed(oid: string): Sized | undefined {
    const o = this.fromPacks(oid);
    return o && { ...o, size: o.body.length };
  }
}

/** The git dir holding the objects of `dir` (a work tree, a linked worktree or a bare repo). Memoised once it exists. */
const objectDirs = new Map<string, string>();
function objectsGitdir(dir: string): string {
  const known = objectDirs.get(dir);
  if (known) return known;
  let gitdir = dir;
  const dotgit = join(dir, '.git');
  const at = (base: string, p: string) => (isAbsolute(p) ? p : join(base, p));
  try {
    if (fs.statSync(dotgit).isDirectory()) gitdir = dotgit;
    else gitdir = at(dir, /^gitdir: (.*)$/m.exec(fs.readFileSync(dotgit, 'utf8'))?.[1].trim() ?? '.git');
  } catch {
    // no .git: a bare repository
  }
  try {
    gitdir = at(gitdir, fs.readFileSync(join(gitdir, 'commondir'), 'utf8').trim());
  } catch {
    // not a linked worktree
  }
  if (fs.existsSync(join(gitdir, 'objects'))) objectDirs.set(dir, gitdir);
  return gitdir;
}

const stores = new WeakMap<object, Map<string, ObjectStore>>();

/** The object store of `dir` for this cache (one per reconciler session, like isomorphic-git's cache). */
export function objectStore(dir: string, cache: object): ObjectStore {
  let byDir = stores.get(cache);
  if (!byDir) stores.set(cache, (byDir = new Map()));
  let store = byDir.get(dir);
  if (!store) byDir.set(dir, (store = new ObjectStore(objectsGitdir(dir), cache)));
  return store;
}
