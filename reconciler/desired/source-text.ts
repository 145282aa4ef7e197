// Bytes -> text for metadata files: strict UTF-8, with the place of the first
// bad byte as line:col, so "non-UTF-8" errors point like any other error.
import { isUtf8 } from 'node:buffer';

export type DecodedText = { ok: true; text: string } | { ok: false; offset: number; line: number; col: number };

/** Byte offset of the first invalid UTF-8 sequence, or -1. */
export function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i];
    if (c < 0x80) { i++; continue; }
    let n: number;
    let min: number;
    if (c >= 0xc2 && c <= 0xdf) [n, min] = [1, 0x80];
    else if (c >= 0xe0 && c <= 0xef) [n, min] = [2, 0x800];
    else if (c >= 0xf0 && c <= 0xf4) [n, min] = [3, 0x10000];
    else return i;
    let cp = c & (0x3f >> n);
    for (let k = 1; k <= n; k++) {
      const cc = b[i + k];
      if (cc === undefined || (cc & 0xc0) !== 0x80) return i;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return i;
    i += n + 1;
  }
  return -1;
}

/** 1-based line and column (in bytes) of a byte offset. */
export function lineColOfByte(b: Uint8Array, offset: number): { line: number; col: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < b.length; i++) {
    if (b[i] === 0x0a) { line++; lineStart = i + 1; }
  }
  return { line, col: offset - lineStart + 1 };
}

export function decodeUtf8(b: Uint8Array): DecodedText {
  // Node's native check (simdutf) accepts exactly what firstInvalidUtf8 accepts (a seeded test
  // compares them); the byte-by-byte scan runs only to say where a bad file goes wrong.
  if (isUtf8(b)) return { ok: true, text: Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8') };
  const offset = firstInvalidUtf8(b);
  if (offset >= 0) return { ok: false, offset, ...lineColOfByte(b, offset) };
  return { ok: true, text: Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8') };
}

/** Whether `text` has at most `max` opening brackets ([ and {), found by indexOf hops. */
function openingsAtMost(text: string, max: number): boolean {
  let n = 0;
  for (const open of ['[', '{']) {
    for (let i = text.indexOf(open); i >= 0; i = text.indexOf(open, i + 1)) if (++n > max) return false;
  }
  return true;
}

/**
 * Where flow nesting ([ and {) first goes deeper than `max`, or undefined.
 * Brackets inside quotes and comments count too: a deliberate over-estimate,
 * so no quoting trick can hide a 10,000-deep list that would crash the parser.
 */
export function flowDepthExceeded(text: string, max: number): { line: number; col: number } | undefined {
  if (openingsAtMost(text, max)) return undefined; // too few brackets to nest that deep: no walk over every character
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) {
      line++;
      lineStart = i + 1;
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > max) return { line, col: i - lineStart + 1 };
    } else if ((c === 0x5d || c === 0x7d) && depth > 0) {
      depth--;
    }
  }
  return undefined;
}

/** Where the first CR not followed by LF is, if any. */
export function loneCarriageReturn(text: string): { line: number; col: number } | undefined {
  const i = text.search(/\r(?!\n)/);
  if (i < 0) return undefined;
  const before = text.slice(0, i);
  const line = (before.match(/\n/g)?.length ?? 0) + 1;
  return { line, col: i - before.lastIndexOf('\n') };
}
