// ajv errors -> compiler-style diagnostics: each at the file:line:col of the
// offending value (or key), worded for a person, with "did you mean" hints.
import type { Diagnostic } from '../../schema/errors.ts';
import type { ErrorObject } from '../../schema/validate.ts';
import { FINGERPRINT_PATTERN, ONE_LINE_PATTERN, NAME_PATTERN, POOL_PATTERN } from '../../schema/metadata.ts';
import { didYouMean } from './did-you-mean.ts';
import { escapePointer, fieldName, lookup, type PositionIndex } from './yaml-positions.ts';
import { quote } from '../../schema/quote.ts';

/** Patterns of the schema, explained. */
const PATTERN_HINTS: Record<string, string> = {
  [NAME_PATTERN]: 'a name must be 2-64 characters of lowercase letters, digits, + - . starting with a letter or digit (it becomes a path segment and a Debian package name)',
  [POOL_PATTERN]: 'a pool name must be 1-31 characters of lowercase letters, digits, _ - starting with a letter or digit',
  [FINGERPRINT_PATTERN]: 'expected a 40-character uppercase hex OpenPGP fingerprint',
  [ONE_LINE_PATTERN]: 'expected one line of text (it goes into the signed Release file, where a line break would add fields)',
  '^keys/[A-Za-z0-9._-]+\\.asc$': "expected a path like 'keys/name.asc' (an armored key under keys/)",
  '^[A-Za-z0-9][A-Za-z0-9._-]*$': 'expected letters, digits, . _ - starting with a letter or digit',
  '^[a-z0-9][a-z0-9-]*$': 'expected lowercase letters, digits and -',
};

function subschema(root: object, schemaPath: string): unknown {
  let node: unknown = root;
  for (const seg of schemaPath.replace(/^#\/?/, '').split('/').filter(Boolean)) {
    if (!node || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return node;
}

/** The schema object that holds the keyword that failed (e.g. the map with `properties`). */
function owner(root: object, e: ErrorObject): Record<string, unknown> | undefined {
  const s = subschema(root, e.schemaPath.slice(0, e.schemaPath.lastIndexOf('/')));
  return s && typeof s === 'object' ? (s as Record<string, unknown>) : undefined;
}

function typeOf(v: unknown): string {
  if (v === null) return 'nothing (null)';
  if (Array.isArray(v)) return 'a list';
  if (v instanceof Uint8Array) return 'binary data';
  if (v instanceof Date) return 'a date';
  if (v instanceof Set) return 'a set';
  if (typeof v === 'object') return 'a map';
  if (typeof v === 'number') return Number.isInteger(v) ? 'a number' : 'a decimal number';
  if (typeof v === 'boolean') return 'a boolean';
  return `a ${typeof v}`;
}

const TYPE_NAMES: Record<string, string> = { object: 'a map (key: value)', array: 'a list', string: 'a string', integer: 'a whole number', number: 'a number', boolean: 'true or false' };

function valueAt(doc: unknown, pointer: string): unknown {
  let v = doc;
  for (const seg of pointer.split('/').slice(1)) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string, unknown>)[seg.replace(/~1/g, '/').replace(/~0/g, '~')];
  }
  return v;
}

function describe(e: ErrorObject, root: object, data: unknown, positions: PositionIndex): { pointer: string; which: 'value' | 'key'; message: string } {
  const at = e.instancePath;
  const field = fieldName(at);
  const prefix = field ? `${field}: ` : '';
  const value = valueAt(data, at);
  switch (e.keyword) {
    case 'required':
      return { pointer: at, which: 'value', message: `${prefix}missing required key ${quote((e.params as { missingProperty: string }).missingProperty)}` };
    case 'additionalProperties': {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      const known = Object.keys((owner(root, e)?.properties as object | undefined) ?? {});
      const where = field ? ` in ${field}` : '';
      return {
        pointer: `${at}/${escapePointer(key)}`,
        which: 'key',
        message: `unknown key ${quote(key)}${where}${didYouMean(key, known)}${known.length ? ` (known keys: ${known.join(', ')})` : ''}`,
      };
    }
    case 'propertyNames':
      return { pointer: at, which: 'value', message: `${prefix}invalid key ${quote((e.params as { propertyName: string }).propertyName)}` };
    case 'type': {
      const want = String((e.params as { type: string }).type).split(',').map((t) => TYPE_NAMES[t] ?? t).join(' or ');
      const raw = positions[at]?.raw ?? String(value);
      const hint = want === 'a string' && (typeof value === 'number' || typeof value === 'boolean') ? ` (quote it: "${raw}")` : '';
      if (at === '') return { pointer: at, which: 'value', message: `expected the file to be ${want}, found ${typeOf(value)}` };
      return { pointer: at, which: 'value', message: `${prefix}expected ${want}, found ${typeOf(value)}${hint}` };
    }
    case 'enum': {
      const allowed = ((e.params as { allowedValues: unknown[] }).allowedValues ?? []).map(String);
      const got = String(value);
      const what = /architectures/.test(at) ? 'unknown architecture' : 'unknown value';
      return { pointer: at, which: 'value', message: `${prefix}${what} ${quote(got)}${didYouMean(got, allowed)}; expected one of: ${allowed.join(', ')}` };
    }
    case 'pattern': {
      const pattern = (e.params as { pattern: string }).pattern;
      const hint = PATTERN_HINTS[pattern] ?? `expected to match ${pattern}`;
      const isKey = /propertyNames/.test(e.schemaPath);
      return { pointer: at, which: isKey ? 'key' : 'value', message: `${prefix}${quote(isKey ? (e.propertyName ?? '') : value)} is not allowed: ${hint}` };
    }
    case 'uniqueItems': {
      const { i, j } = e.params as { i: number; j: number };
      const list = Array.isArray(value) ? value : [];
      return { pointer: `${at}/${i}`, which: 'value', message: `${prefix}${quote(String(list[i]))} is listed twice (items ${j} and ${i})` };
    }
    default:
      return { pointer: at, which: 'value', message: `${prefix}${e.message ?? e.keyword}` };
  }
}

/** More than this many schema errors in one file are summarised: hostile input must not flood the output. */
export const MAX_DIAGNOSTICS_PER_FILE = 50;

/** ajv's errors for one file as diagnostics, duplicates and noise removed. */
export function schemaDiagnostics(file: string, errors: readonly ErrorObject[], root: object, data: unknown, positions: PositionIndex): Diagnostic[] {
  // A pattern error on a property name comes twice (pattern + propertyNames): keep the pattern one.
  const useful = errors.filter((e) => !(e.keyword === 'propertyNames' && errors.some((o) => o.keyword === 'pattern' && o.instancePath === e.instancePath && /propertyNames/.test(o.schemaPath))));
  const seen = new Set<string>();
  const out: Diagnostic[] = [];
  for (const e of useful) {
    if (out.length >= MAX_DIAGNOSTICS_PER_FILE) {
      out.push({ file, line: out[out.length - 1].line, col: out[out.length - 1].col, message: `… and more schema errors in this file (showing the first ${MAX_DIAGNOSTICS_PER_FILE})`, severity: 'error' });
      break;
    }
    const d = describe(e, root, data, positions);
    let pointer = d.pointer;
    if (d.which === 'key' && e.keyword === 'pattern') pointer = `${e.instancePath}/${escapePointer(e.propertyName ?? '')}`;
    const { line, col } = lookup(positions, pointer, d.which);
    const key = `${line}:${col}:${d.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ file, line, col, message: d.message, path: pointer, severity: 'error' });
  }
  return out;
}
