// Where each value of a YAML document sits in its file, keyed by JSON pointer,
// so schema errors (ajv's instancePath) and semantic rules can name line:col.
// Built from the AST: aliases are leaves here, so an alias bomb costs nothing.
import { isAlias, isMap, isPair, isScalar, isSeq, type Document, type LineCounter, type Node } from 'yaml';

export interface Place {
  line: number;
  col: number;
}

export interface NodePlace {
  /** Where the value starts. */
  value: Place;
  /** Where its key starts, when the value sits in a map. */
  key?: Place;
  /** Source text of a non-string scalar (1.10 parses as the number 1.1). */
  raw?: string;
}

/** JSON pointer -> place. Plain object so a snapshot stays plain data. */
export type PositionIndex = Record<string, NodePlace>;

export const escapePointer = (s: string) => s.replace(/~/g, '~0').replace(/\//g, '~1');

function place(lc: LineCounter, offset: number): Place {
  const { line, col } = lc.linePos(offset);
  return { line, col };
}

function keyString(key: unknown): string {
  if (isScalar(key)) return String(key.value);
  if (key && typeof key === 'object' && 'toString' in key) return String(key);
  return String(key);
}

export function indexPositions(doc: Document, lc: LineCounter): PositionIndex {
  const index: PositionIndex = {};
  const visit = (node: unknown, pointer: string, keyPlace?: Place, fallback?: Place) => {
    const n = node as Node | null | undefined;
    const start = n && 'range' in n && n.range ? place(lc, n.range[0]) : fallback;
    if (start) {
      index[pointer] = keyPlace ? { value: start, key: keyPlace } : { value: start };
      if (isScalar(n) && typeof n.value !== 'string' && n.source !== undefined) index[pointer].raw = n.source;
    }
    if (!n || isAlias(n) || isScalar(n)) return;
    if (isMap(n)) {
      for (const pair of n.items) {
        if (!isPair(pair)) continue;
        const k = pair.key as Node | null;
        const kp = k && k.range ? place(lc, k.range[0]) : start;
        visit(pair.value, `${pointer}/${escapePointer(keyString(k))}`, kp, kp);
      }
    } else if (isSeq(n)) {
      n.items.forEach((item, i) => visit(item, `${pointer}/${i}`, undefined, start));
    }
  };
  visit(doc.contents, '', undefined, { line: 1, col: 1 });
  return index;
}

/** The place of `pointer`, or of its nearest ancestor that has one. */
export function lookup(index: PositionIndex, pointer: string, which: 'value' | 'key' = 'value'): Place {
  let p = pointer;
  for (;;) {
    const hit = index[p];
    if (hit) return (which === 'key' && hit.key) || hit.value;
    if (p === '') return { line: 1, col: 1 };
    p = p.slice(0, p.lastIndexOf('/'));
  }
}

/** `/source/ref` -> `source.ref`, `/release/1` -> `release[1]`. */
export function fieldName(pointer: string): string {
  if (pointer === '') return '';
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, s) => (/^\d+$/.test(s) ? `${acc}[${s}]` : acc ? `${acc}.${s}` : s), '');
}
