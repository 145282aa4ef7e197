// How long the bytes a container wrote are once the engine's json-file log has
// stored them: that driver keeps each line as a JSON string, so every byte that
// is not part of valid UTF-8 comes back as U+FFFD (3 bytes), decoded as Go's
// utf8.DecodeRune does (one invalid byte at a time). The runner skips this many
// bytes of the log to find what the attach stream did not deliver; counting raw
// bytes there re-delivered the tail of any output with invalid UTF-8 in it.
//
// Never an over-count (that would skip, and lose, output): a sequence that may
// still be completed counts as its raw length until it is.

const REPLACEMENT_BYTES = 3;

/** Pure: [length of a valid sequence starting at b, and the accepted range of its second byte], or undefined for an invalid lead byte. */
function leadOf(b: number): { n: number; lo: number; hi: number } | undefined {
  if (b >= 0xc2 && b <= 0xdf) return { n: 2, lo: 0x80, hi: 0xbf };
  if (b === 0xe0) return { n: 3, lo: 0xa0, hi: 0xbf };
  if (b === 0xed) return { n: 3, lo: 0x80, hi: 0x9f };
  if (b >= 0xe1 && b <= 0xef) return { n: 3, lo: 0x80, hi: 0xbf };
  if (b === 0xf0) return { n: 4, lo: 0x90, hi: 0xbf };
  if (b >= 0xf1 && b <= 0xf3) return { n: 4, lo: 0x80, hi: 0xbf };
  if (b === 0xf4) return { n: 4, lo: 0x80, hi: 0x8f };
  return undefined;
}

/** What one sequence at `i` is: valid (n bytes), invalid (its lead byte alone), or cut off by the end of `buf`. */
function sequenceAt(buf: Buffer, i: number): { kind: 'valid'; n: number } | { kind: 'invalid' } | { kind: 'incomplete' } {
  const b = buf[i];
  if (b < 0x80) return { kind: 'valid', n: 1 };
  const lead = leadOf(b);
  if (!lead) return { kind: 'invalid' };
  for (let k = 1; k < lead.n; k++) {
    if (i + k >= buf.length) return { kind: 'incomplete' };
    const c = buf[i + k];
    const [lo, hi] = k === 1 ? [lead.lo, lead.hi] : [0x80, 0xbf];
    if (c < lo || c > hi) return { kind: 'invalid' };
  }
  return { kind: 'valid', n: lead.n };
}

/** Counts one stream's bytes as the json-file log will hold them; chunks may split a sequence. */
export class EngineLogLength {
  private counted = 0;
  private carry: Buffer = Buffer.alloc(0);

  add(chunk: Buffer): void {
    const buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    let i = 0;
    while (i < buf.length) {
      const s = sequenceAt(buf, i);
      if (s.kind === 'incomplete') break;
      if (s.kind === 'invalid') {
        this.counted += REPLACEMENT_BYTES;
        i += 1;
      } else {
        this.counted += s.n;
        i += s.n;
      }
    }
    this.carry = Buffer.from(buf.subarray(i));
  }

  /** The length so far; an unfinished sequence counts as its raw bytes (an under-count at worst). */
  get length(): number {
    return this.counted + this.carry.length;
  }
}
