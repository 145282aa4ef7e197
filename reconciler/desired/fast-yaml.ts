// The fast path of reading a metadata file: the line scanner of plain-yaml.ts, else js-yaml
// (several times quicker than the positioned `yaml` parser) for plain files, with plain scalars resolved exactly as
// `yaml`'s core schema resolves them. Anything a plain metadata file does not need
// (anchors, aliases, tags, directives, merge keys, tabs, multi-line flow collections,
// keys that are not plain text) returns undefined and is left to the positioned
// parser, which stays the specification and names file:line:col for every problem
// (test/unit/desired-parse-file.test.ts compares the two).
import jsyaml from 'js-yaml';
import { CORE_FORMS, oddKey, type ScalarForms } from './yaml-core-scalars.ts';
import { parsePlainYaml } from './plain-yaml.ts';

/** One implicit type per tag (js-yaml keeps the last type of a tag): the first matching form resolves. */
function scalar(tag: string, forms: ScalarForms) {
  const form = (s: string | null) => forms.find(([re]) => re.test(s ?? ''));
  return new jsyaml.Type(`tag:yaml.org,2002:${tag}`, { kind: 'scalar', resolve: (s: string | null) => form(s) !== undefined, construct: (s: string | null) => form(s)![1](s ?? '') });
}

const CORE = jsyaml.FAILSAFE_SCHEMA.extend({ implicit: CORE_FORMS.map(([tag, forms]) => scalar(tag, forms)) });

/**
 * YAML features the fast path leaves to the positioned parser (a stray one in a string only costs
 * the slow path): anchors, aliases, tags, directives, tabs, merge keys, document markers, explicit
 * `?` keys, flow collections used as keys, and a `#` not after white space (`yaml` refuses some).
 */
const UNUSUAL = /[&*!%\t]|<<|^(?:---|\.\.\.)|(?:^|[\s,[{])\?(?:\s|$)|[\]}]\s*:(?:\s|$)|\S#/m;
/**
 * Flow collections ([ ], { }) and quoted scalars opened and closed on the same line: `yaml` is
 * stricter than js-yaml about the indentation of multi-line ones. (An apostrophe in plain text
 * takes the slow path too.)
 */
function eachLineClosed(text: string): boolean {
  let depth = 0;
  let single = 0;
  let double = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) depth--;
    else if (c === 0x27) single++;
    else if (c === 0x22) double++;
    else if (c === 0x0a && (depth !== 0 || single % 2 !== 0 || double % 2 !== 0)) return false;
  }
  return depth === 0 && single % 2 === 0 && double % 2 === 0;
}

/**
 * Every key plain and no list longer than `maxItems` (parse-file.ts's limit, whose message names
 * the list's line: the positioned parser gives it). One walk, no entry arrays.
 */
function plainData(v: unknown, maxItems: number): boolean {
  if (v === null || typeof v !== 'object') return true;
  if (Array.isArray(v)) {
    if (v.length > maxItems) return false;
    for (let i = 0; i < v.length; i++) if (!plainData(v[i], maxItems)) return false;
    return true;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) if (oddKey(k) || !plainData(o[k], maxItems)) return false;
  return true;
}

/**
 * The document's data when the fast path can read it exactly as the positioned parser would (and it
 * has no list longer than `maxItems`); else undefined.
 */
export function fastParse(text: string, maxItems = Infinity): unknown {
  if (UNUSUAL.test(text) || !eachLineClosed(text)) return undefined;
  // The plainest files (nearly every package) by a line scanner; the rest by js-yaml.
  const plain = parsePlainYaml(text, maxItems);
  if (plain !== undefined) return plain;
  let data: unknown;
  try {
    data = jsyaml.load(text, { schema: CORE });
  } catch {
    return undefined; // the positioned parser says where and why
  }
  return data !== null && data !== undefined && plainData(data, maxItems) ? data : undefined;
}
