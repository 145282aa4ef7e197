// Inflating one packed git object whose size the pack header gives: fflate's pure-JS
// inflate into a buffer of that size, checked against the zlib stream's Adler-32, is
// cheaper than node's inflateSync for small objects (which sets up a native zlib stream
// per call; ~10k metadata files are read per cold plan). Larger objects go to node's zlib:
// from ≈ 2 KiB on it is the faster one (4 KiB: 10 against 42 µs), and a fresh process
// inflated the 420 KB tree of a 10,000-package directory in 30–37 ms with fflate, whose code
// was not compiled yet, against 1.5–2.4 ms. Anything unexpected (another size, a bad
// checksum, a preset dictionary) goes to node's zlib too, which gives the usual answer or
// error.
import { inflateSync as inflateRaw } from 'fflate';
import { inflateSync } from 'node:zlib';

/** Pure: the Adler-32 checksum of `b` (RFC 1950 §8.2), as a zlib stream ends with it. */
export function adler32(b: Uint8Array): number {
  let a = 1;
  let s = 0;
  for (let i = 0; i < b.length; ) {
    const end = Math.min(i + 3800, b.length); // sums stay below 2^53 between reductions
    for (; i < end; i++) {
      a += b[i];
      s += a;
    }
    a %= 65521;
    s %= 65521;
  }
  return ((s << 16) | a) >>> 0;
}

/** Objects up to this size are inflated by fflate. */
export const FFLATE_MAX_BYTES = 2048;

/** `zlib`: exactly one zlib stream (header, deflate data, Adler-32), inflating to `size` bytes. */
export function inflateObject(zlib: Buffer, size: number): Buffer {
  const n = zlib.length;
  if (size <= FFLATE_MAX_BYTES && n > 6 && (zlib[0] & 0x0f) === 8 && (zlib[1] & 0x20) === 0) {
    try {
      const out = Buffer.allocUnsafe(size);
      const got = inflateRaw(zlib.subarray(2, n - 4), { out });
      if (got.length === size && got.buffer === out.buffer && adler32(out) === zlib.readUInt32BE(n - 4)) return out;
    } catch {
      // node's zlib says what is wrong
    }
  }
  return inflateSync(zlib);
}
