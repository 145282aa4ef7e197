// The cheapest tier of reading a metadata file: a line scanner for the plainest YAML, the shape
// nearly every package file has — a block mapping of plain keys whose values are one-line
// scalars (plain, 'single' or "double" quoted without escapes), one-line flow lists of such
// scalars, nested block mappings and block lists of one-line scalars, with comments. Anything
// else, or anything it is unsure of, returns undefined and goes to js-yaml (fast-yaml.ts), then
// to the positioned parser, the specification; test/unit/desired-parse-file.test.ts holds the
// three to the same answer on seeded random files. js-yaml spent ≈ 15% of a cold plan of
// 10,000 packages on what this does in one pass over the characters.
import { oddKey, resolvePlain } from './yaml-core-scalars.ts';

/** Not this tier's: a value, key or line it does not read. */
const NO: unique symbol = Symbol('not plain');
type Value = unknown;

/** Characters that make a file not this tier's anywhere: controls, C1 (NEL), line/paragraph separators, BOM, non-characters. */
const UNPRINTABLE = /[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]/;
/** Keys as metadata files write them: a letter or `_`, then letters, digits, `_`, `-`, `.` (ASCII). */
const isLetter = (c: number) => (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a);

const SPACE = 0x20;
const HASH = 0x23;
const COLON = 0x3a;
const DASH = 0x2d;

/** The content lines of a text, one at a time: blank and comment-only lines skipped. */
class Lines {
  /** Where the current line's content starts (past its indentation). */
  at = 0;
  /** The current line's end (its `\n`, or the text's end). */
  end = 0;
  /** The current line's indentation; -1 past the last line. */
  indent = -1;

  constructor(readonly text: string) {
    this.skipFrom(0);
  }

  next(): void {
    this.skipFrom(this.end + 1);
  }

  private skipFrom(from: number): void {
    const t = this.text;
    let i = from;
    while (i < t.length) {
      let j = i;
      while (t.charCodeAt(j) === SPACE) j++;
      let e = t.indexOf('\n', j);
      if (e < 0) e = t.length;
      if (j === e || t.charCodeAt(j) === HASH) {
        i = e + 1;
        continue;
      }
      this.at = j;
      this.end = e;
      this.indent = j - i;
      return;
    }
    this.at = this.end = t.length;
    this.indent = -1;
  }

  /** Past the last line? */
  done(): boolean {
    return this.indent < 0;
  }

  /** Is the current line a block list item (`-` then a space or the line's end)? */
  item(): boolean {
    const c = this.text.charCodeAt(this.at + 1);
    return this.text.charCodeAt(this.at) === DASH && (this.at + 1 === this.end || c === SPACE);
  }
}

/** From `i`, nothing but spaces and then either the end or a comment (` #…`) until `end`. */
function restIsBlank(t: string, i: number, end: number): boolean {
  const from = i;
  while (i < end && t.charCodeAt(i) === SPACE) i++;
  return i === end || (t.charCodeAt(i) === HASH && i > from);
}

/** A quoted scalar opening at `i` (no escapes, one line): [value, index past the closing quote] or NO. */
function quoted(t: string, i: number, end: number): [string, number] | typeof NO {
  const q = t.charCodeAt(i);
  let out = '';
  let from = i + 1;
  for (let k = i + 1; k < end; k++) {
    const c = t.charCodeAt(k);
    if (q === 0x22 && c === 0x5c) return NO; // a backslash escape: js-yaml's
    if (c !== q) continue;
    if (q === 0x27 && t.charCodeAt(k + 1) === 0x27) {
      out += t.slice(from, k + 1); // '' is one '
      from = ++k + 1;
      continue;
    }
    return [out + t.slice(from, k), k + 1];
  }
  return NO;
}

/** Indicators, flow, quote and reserved characters: no plain scalar of this tier starts with one. */
const NOT_PLAIN_START = new Uint8Array(128);
for (const c of '?:,[]{}#&*!|>\'"%@`') NOT_PLAIN_START[c.charCodeAt(0)] = 1;

/** Can a plain scalar start with the character at `i` (of a value ending at `end`)? `-` only before a non-space (`-1`). */
function plainStart(t: string, i: number, end: number): boolean {
  const c = t.charCodeAt(i);
  if (c < 128 && NOT_PLAIN_START[c]) return false;
  return c !== DASH || (i + 1 < end && t.charCodeAt(i + 1) !== SPACE);
}

/**
 * A plain scalar's text from `i`: up to a comment or the line's end, trailing spaces dropped; NO
 * when it holds `: ` or ends with `:` (a nested mapping), or brackets (`inFlow`: stops at `,` / `]`).
 */
function plainText(t: string, i: number, end: number, inFlow: boolean): [string, number] | typeof NO {
  let k = i;
  let last = i; // past the last non-space character
  for (; k < end; k++) {
    const c = t.charCodeAt(k);
    if (c === SPACE) {
      if (t.charCodeAt(k + 1) === HASH) break;
      continue;
    }
    if (c === COLON && (k + 1 === end || t.charCodeAt(k + 1) === SPACE || inFlow)) return NO;
    if (c === 0x5b || c === 0x5d || c === 0x7b || c === 0x7d || c === 0x2c) {
      if (inFlow && (c === 0x2c || c === 0x5d)) break;
      return NO;
    }
    if (c === HASH || c === 0x27 || c === 0x22) return NO; // (a `#` after a space ended it above)
    last = k + 1;
  }
  return [t.slice(i, last), k];
}

/** One scalar from `i` (quoted or plain): [value, index past it] or NO. */
function scalar(t: string, i: number, end: number, inFlow: boolean): [Value, number] | typeof NO {
  const c = t.charCodeAt(i);
  if (c === 0x27 || c === 0x22) return quoted(t, i, end);
  if (!plainStart(t, i, end)) return NO;
  const p = plainText(t, i, end, inFlow);
  return p === NO ? NO : [resolvePlain(p[0]), p[1]];
}

/** A one-line flow list of scalars opening at `i`: [items, index past `]`] or NO. */
function flowList(t: string, i: number, end: number, maxItems: number): [Value[], number] | typeof NO {
  const out: Value[] = [];
  let k = i + 1;
  while (t.charCodeAt(k) === SPACE) k++;
  if (t.charCodeAt(k) === 0x5d) return [out, k + 1];
  for (;;) {
    while (t.charCodeAt(k) === SPACE) k++;
    if (k >= end) return NO;
    const s = scalar(t, k, end, true);
    if (s === NO) return NO;
    out.push(s[0]);
    if (out.length > maxItems) return NO;
    k = s[1];
    while (t.charCodeAt(k) === SPACE) k++;
    const c = t.charCodeAt(k);
    if (c === 0x5d) return [out, k + 1];
    if (c !== 0x2c) return NO;
    k++;
  }
}

/** The value written on a line from `i` (a scalar or a flow list, then at most a comment), or NO. */
function inline(t: string, i: number, end: number, maxItems: number): Value | typeof NO {
  const v = t.charCodeAt(i) === 0x5b ? flowList(t, i, end, maxItems) : scalar(t, i, end, false);
  return v !== NO && restIsBlank(t, v[1], end) ? v[0] : NO;
}

/** Past the spaces from `i`; `end` when the rest is a comment. */
function valueStart(t: string, i: number, end: number): number {
  const from = i;
  while (i < end && t.charCodeAt(i) === SPACE) i++;
  return i < end && t.charCodeAt(i) === HASH && i > from ? end : i;
}

/** A block list whose items sit at the current line's indentation, each a one-line value. */
function blockList(l: Lines, maxItems: number): Value[] | typeof NO {
  const n = l.indent;
  const t = l.text;
  const out: Value[] = [];
  while (l.indent === n && l.item()) {
    const s = valueStart(t, l.at + 1, l.end);
    if (s === l.end) return NO; // an empty item, or a nested block
    const v = inline(t, s, l.end, maxItems);
    if (v === NO) return NO;
    out.push(v);
    if (out.length > maxItems) return NO;
    l.next();
  }
  return l.indent > n ? NO : out;
}

/** A block mapping whose keys sit at the current line's indentation `n`. */
function blockMap(l: Lines, maxItems: number): Record<string, Value> | typeof NO {
  const n = l.indent;
  const t = l.text;
  const out: Record<string, Value> = {};
  while (l.indent === n) {
    const first = t.charCodeAt(l.at);
    if (!(isLetter(first) || first === 0x5f)) return NO;
    let k = l.at + 1;
    for (; k < l.end; k++) {
      const c = t.charCodeAt(k);
      if (!(isLetter(c) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === DASH || c === 0x2e)) break;
    }
    if (t.charCodeAt(k) !== COLON || (k + 1 < l.end && t.charCodeAt(k + 1) !== SPACE)) return NO;
    const key = t.slice(l.at, k);
    // A key that reads as null or a bool (`Null:`, `True:`), a special one, a repeated one, or one past
    // YAML's 1024-character limit on implicit keys: the other parsers say what it is.
    if (k - l.at > 1000 || oddKey(key) || typeof resolvePlain(key) !== 'string' || Object.hasOwn(out, key)) return NO;
    const s = valueStart(t, k + 1, l.end);
    let v: Value | typeof NO;
    if (s < l.end) {
      v = inline(t, s, l.end, maxItems);
      l.next();
    } else {
      l.next();
      // Nested: a mapping further in, a list further in or at the key's own indentation, or nothing (null).
      if (l.indent > n) v = l.item() ? blockList(l, maxItems) : blockMap(l, maxItems);
      else if (l.indent === n && l.item()) v = blockList(l, maxItems);
      else v = null;
    }
    if (v === NO) return NO;
    out[key] = v;
  }
  return l.indent > n ? NO : out;
}

/**
 * The data of a file in the plain subset, exactly as the positioned parser reads it; undefined for
 * any other file (also one with a list longer than `maxItems`, whose error the positioned parser
 * places). The caller has refused anchors, tags, tabs and the like (fast-yaml.ts UNUSUAL).
 */
export function parsePlainYaml(text: string, maxItems = Infinity): Record<string, unknown> | undefined {
  if (text.includes('\r') || UNPRINTABLE.test(text)) return undefined;
  const l = new Lines(text);
  if (l.indent !== 0) return undefined;
  const data = blockMap(l, maxItems);
  return data === NO || !l.done() ? undefined : data;
}
