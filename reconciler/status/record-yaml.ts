// The YAML text of a status record, fast: byte for byte what the `yaml` library
// writes with the record options (sorted keys, no folding, indent 2), for the
// shapes records have (a map of maps, lists, numbers, booleans, null, one-line strings).
// Anything else (a multi-line string, a nested list, an escape) is handed to the
// library for the whole record. Why: the library builds a document tree per
// record, ~0.4 ms each; a pass recording 2,000 dispatches and 2,000 results spent
// most of its commit there. test/unit/record-yaml.test.ts checks the equality on
// random records.
import { Document, stringify } from 'yaml';

export const RECORD_YAML_OPTIONS = { sortMapEntries: true, lineWidth: 0, minContentWidth: 0, indent: 2 } as const;

/** The library's own rules for a plain scalar that would read back as something else (42, true, null, 0x1f …). */
const OTHER_TYPES = new Document().schema.tags.filter((t) => t.default && t.tag !== 'tag:yaml.org,2002:str' && t.test).map((t) => t.test!);
/** Only text starting like this can be one of those (core schema: null, bool, int, float). */
const MAYBE_OTHER = /^(?:[~nNtTfF0-9+.-]|$)/;
const isOtherType = (s: string) => MAYBE_OTHER.test(s) && OTHER_TYPES.some((t) => t.test(s));
// The library's test for a string that cannot be plain (stringifyString.js, plainString).
const NOT_PLAIN = /^[\n\t ,[\]{}#&*!|>'"%@`]|^[?-]$|^[?-][ \t]|[\n:][ \t]|[ \t]\n|[\n\t ]#|[\n\t :]$/;
// Left to the library: line breaks (block scalars), what it double-quotes with its own escapes
// (control characters, lone surrogates), and a leading document marker (written by context).
const LIBRARY_ONLY = /[\n\u2028\u2029\x00-\x08\x0b-\x1f\x7f-\x9f\u{D800}-\u{DFFF}]|^(?:%|---|\.\.\.)/u;
const KEY = /^[A-Za-z_][A-Za-z0-9_-]*$/;

/** Thrown inside the fast path for a shape it does not write; the caller falls back to the library. */
class Unsupported extends Error {}
const unsupported = new Unsupported();

function scalarString(value: string): string {
  if (LIBRARY_ONLY.test(value)) throw unsupported;
  if (value !== '' && !NOT_PLAIN.test(value) && !isOtherType(value)) return value;
  const json = JSON.stringify(value);
  // Double quotes as JSON writes them, unless escapes are needed (the library rewrites some) or
  // the text holds only double quotes (then the library picks single quotes).
  if (!json.includes('\\')) return json;
  if (value.includes('"') && !value.includes("'") && !/\\[^"]/.test(json)) return `'${value}'`;
  throw unsupported;
}

function scalar(value: unknown): string {
  if (value === null) return 'null';
  switch (typeof value) {
    case 'string':
      return scalarString(value);
    case 'boolean':
      return value ? 'true' : 'false';
    case 'number':
      if (!Number.isFinite(value) || Object.is(value, -0)) throw unsupported;
      return JSON.stringify(value);
    default:
      throw unsupported;
  }
}

const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

const byKey = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Lines of a map's entries at `indent`; the first line is returned without its indent (the caller places it). */
function mapBody(map: Record<string, unknown>, indent: string): string {
  const keys = Object.keys(map).sort(byKey);
  let out = '';
  keys.forEach((k, i) => {
    if (!KEY.test(k) || isOtherType(k)) throw unsupported;
    const v = map[k];
    if (v === undefined) throw unsupported;
    out += `${i ? indent : ''}${k}:${value(v, indent)}`;
  });
  return out;
}

/** " scalar\n", or "\n" and the nested collection's lines, for a value after "key:" at `indent`. */
function value(v: unknown, indent: string): string {
  if (Array.isArray(v)) {
    if (v.length === 0) return ' []\n';
    const inner = `${indent}  `;
    let out = '\n';
    for (const item of v) out += `${inner}-${seqItem(item, `${inner}  `)}`;
    return out;
  }
  if (isMap(v)) {
    if (Object.keys(v).length === 0) return ' {}\n';
    const inner = `${indent}  `;
    return `\n${inner}${mapBody(v, inner)}`;
  }
  return ` ${scalar(v)}\n`;
}

/** What follows "-" for one list item; a map's later entries line up under its first. */
function seqItem(item: unknown, indent: string): string {
  if (Array.isArray(item)) throw unsupported;
  if (isMap(item)) return Object.keys(item).length === 0 ? ' {}\n' : ` ${mapBody(item, indent)}`;
  return ` ${scalar(item)}\n`;
}

/** A record is a map; anything else at the top is left to the library. */
function fast(record: unknown): string {
  if (!isMap(record)) throw unsupported;
  return Object.keys(record).length === 0 ? '{}\n' : mapBody(record, '');
}

/** The record's YAML, identical to `stringify(record, RECORD_YAML_OPTIONS)`. `undefined` members must be gone already. */
export function recordYaml(record: unknown): string {
  try {
    return fast(record);
  } catch (e) {
    if (e !== unsupported) throw e;
    return stringify(record, RECORD_YAML_OPTIONS);
  }
}
