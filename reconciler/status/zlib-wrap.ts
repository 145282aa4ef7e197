// The zlib stream a git object is stored in (loose or in a pack). A small object (a build
// record, a signature: a few hundred bytes) is wrapped in stored deflate blocks, written here
// (RFC 1950 header and Adler-32, RFC 1951 §3.2.4 blocks): Node's deflateSync costs 15–40 µs a
// call whatever the level (setting up the stream, not compressing), which made the status
// commits of a pass recording thousands of results the biggest item of the reconciler's CPU
// in scripts/bench-dispatch; wrapping costs ≈ 1 µs. Such objects take about twice the space:
// `git gc` recompresses them only while loose, reuses them as they are from a pack, and only
// deltas or `git repack -F` give the space back. Bigger ones (a tree of thousands of records) are deflated: there
// the compression is worth the call. Every git reader inflates both alike.
import { deflateSync } from 'node:zlib';
import { adler32 } from '../git/inflate-object.ts';

/** Objects up to this size are stored, not compressed. */
export const STORED_MAX = 4096;

/** The zlib stream of `data`: stored blocks when small, deflated (level 1) otherwise. */
export function zlibWrap(data: Uint8Array): Buffer {
  return data.length <= STORED_MAX ? zlibStored(data) : deflateSync(data, { level: 1 });
}

/** A stored block holds at most this many bytes (its LEN field is 16 bits). */
const BLOCK_MAX = 0xffff;

/** Pure: `data` as a zlib stream of stored (uncompressed) deflate blocks. */
export function zlibStored(data: Uint8Array): Buffer {
  const blocks = Math.max(1, Math.ceil(data.length / BLOCK_MAX));
  const out = Buffer.allocUnsafe(2 + blocks * 5 + data.length + 4);
  // CMF 0x78 (deflate, 32 KiB window), FLG 0x01 (no dictionary, "fastest"; 0x7801 % 31 === 0).
  out[0] = 0x78;
  out[1] = 0x01;
  let o = 2;
  for (let b = 0; b < blocks; b++) {
    const start = b * BLOCK_MAX;
    const len = Math.min(BLOCK_MAX, data.length - start);
    // BFINAL on the last block, BTYPE 00 (stored); the rest of the header byte pads to the byte boundary.
    out[o] = b === blocks - 1 ? 1 : 0;
    out.writeUInt16LE(len, o + 1);
    out.writeUInt16LE(~len & 0xffff, o + 3);
    o += 5;
    out.set(data.subarray(start, start + len), o);
    o += len;
  }
  out.writeUInt32BE(adler32(data), o);
  return out;
}
