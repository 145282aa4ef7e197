// Many new objects at once (a pass recording thousands of records) go into one
// packfile instead of thousands of loose files: one file write instead of
// thousands of open/write/rename calls. Format: git's pack v2 + index v2
// (Documentation/gitformat-pack.txt), whole objects, no deltas. The .pack is
// renamed into place before its .idx, and readers (git, isomorphic-git) find
// packs through their .idx, so a killed writer leaves at most an unindexed
// .pack that git gc removes, never a torn object.
import { createHash, randomBytes } from 'node:crypto';
import { rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { hashObject, type ObjectType } from './object-id.ts';
import { zlibWrap } from './zlib-wrap.ts';

const TYPE_CODE: Record<ObjectType, number> = { commit: 1, tree: 2, blob: 3 };

/** The variable-length object header: type in bits 4-6 of the first byte, size in 4 + 7n bits. */
export function packObjectHeader(type: ObjectType, size: number): Buffer {
  const bytes: number[] = [];
  let byte = (TYPE_CODE[type] << 4) | (size & 0x0f);
  let rest = Math.floor(size / 16);
  while (rest > 0) {
    bytes.push(byte | 0x80);
    byte = rest & 0x7f;
    rest = Math.floor(rest / 128);
  }
  bytes.push(byte);
  return Buffer.from(bytes);
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n >>> 0);
  return b;
};

interface PackedObject {
  oid: string;
  offset: number;
  crc: number;
}

/** The pack's bytes and where each object starts in it. */
export function buildPack(objects: Array<{ type: ObjectType; content: Uint8Array }>): { pack: Buffer; entries: PackedObject[] } {
  const parts: Buffer[] = [Buffer.from('PACK'), u32(2), u32(objects.length)];
  let offset = 12;
  const entries: PackedObject[] = [];
  for (const o of objects) {
    const record = Buffer.concat([packObjectHeader(o.type, o.content.length), zlibWrap(o.content)]);
    entries.push({ oid: hashObject(o.type, o.content).oid, offset, crc: crc32(record) });
    parts.push(record);
    offset += record.length;
  }
  if (offset >= 2 ** 31) throw new RangeError('pack too large for 32-bit index offsets');
  // Hashed part by part, then copied once (not joined, then joined again with its checksum).
  const sha1 = createHash('sha1');
  for (const p of parts) sha1.update(p);
  return { pack: Buffer.concat([...parts, sha1.digest()], offset + 20), entries };
}

/** Index v2 of a pack: fan-out, sorted oids, CRC32s, offsets, then both checksums. */
export function buildIndex(entries: PackedObject[], packChecksum: Buffer): Buffer {
  const sorted = [...entries].sort((a, b) => (a.oid < b.oid ? -1 : a.oid > b.oid ? 1 : 0));
  const fanout = new Array<number>(256).fill(0);
  for (const e of sorted) fanout[parseInt(e.oid.slice(0, 2), 16)]++;
  for (let i = 1; i < 256; i++) fanout[i] += fanout[i - 1];
  const body = Buffer.concat([
    Buffer.from([0xff, 0x74, 0x4f, 0x63]),
    u32(2),
    ...fanout.map(u32),
    ...sorted.map((e) => Buffer.from(e.oid, 'hex')),
    ...sorted.map((e) => u32(e.crc)),
    ...sorted.map((e) => u32(e.offset)),
    packChecksum,
  ]);
  return Buffer.concat([body, createHash('sha1').update(body).digest()]);
}

async function writeAtomic(path: string, data: Buffer): Promise<void> {
  const tmp = `${path}.tmp-${randomBytes(6).toString('hex')}`;
  try {
    await writeFile(tmp, data, { mode: 0o444 });
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Write `objects` as one pack in `gitdir`; returns their oids in input order. Duplicates of existing objects are harmless. */
export async function writePack(gitdir: string, objects: Array<{ type: ObjectType; content: Uint8Array }>): Promise<string[]> {
  const { pack, entries } = buildPack(objects);
  const checksum = pack.subarray(pack.length - 20);
  const base = join(gitdir, 'objects', 'pack', `pack-${checksum.toString('hex')}`);
  await writeAtomic(`${base}.pack`, pack);
  await writeAtomic(`${base}.idx`, buildIndex(entries, checksum));
  return entries.map((e) => e.oid);
}
