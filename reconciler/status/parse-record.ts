// One status file -> a validated record, or a problem naming path, line and
// field. Pure: the reader and the writer both go through here, so the writer
// can never commit a record the reader would refuse.
import { isMap, isSeq, LineCounter, parseDocument, type Node } from 'yaml';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import { STATUS_LAYOUT } from '../../schema/status.ts';
import type { BuildRecord, CheckRecord, ConditionRecord, GateRecord, ReleaseRecord } from '../../schema/status.ts';
import { forgeStatusPath, type ForgeStatusRecord } from '../../schema/forge.ts';
import { validators, type ValidatorName } from '../../schema/validate.ts';
import { gateId } from '../model.ts';
import { takeSerialized } from './records.ts';

export type ParsedRecord =
  | { kind: 'build'; id: string; record: BuildRecord }
  | { kind: 'release'; id: string; record: ReleaseRecord }
  | { kind: 'gate'; id: string; record: GateRecord }
  | { kind: 'check'; id: string; record: CheckRecord }
  | { kind: 'condition'; id: string; record: ConditionRecord }
  | { kind: 'forge'; id: string; record: ForgeStatusRecord };

export type RecordKind = ParsedRecord['kind'];

/** A status file that could not be used, and why. */
export interface RecordProblem {
  path: string;
  line?: number;
  /** JSON pointer of the offending field, when known. */
  field?: string;
  message: string;
}

export type ParseOutcome = { ok: true; value: ParsedRecord } | { ok: false; problem: RecordProblem };

const DIRS: Record<string, RecordKind> = { builds: 'build', releases: 'release', gates: 'gate', checks: 'check', conditions: 'condition', forge: 'forge' };

/** The top-level directories that hold records (signatures/ holds no records). */
export const RECORD_DIRS = Object.keys(DIRS);

/** Which kind of record a path holds, or undefined for anything else (signatures, stray files). */
export function recordKindOf(path: string): RecordKind | undefined {
  if (!path.endsWith('.yaml')) return undefined;
  const slash = path.indexOf('/');
  return slash > 0 ? DIRS[path.slice(0, slash)] : undefined;
}

/** Each kind's validator name in schema/validate.ts (read when used: they compile on first use). */
const VALIDATOR: Record<RecordKind, ValidatorName> = {
  build: 'buildRecord',
  release: 'releaseRecord',
  gate: 'gateRecord',
  check: 'checkRecord',
  condition: 'conditionRecord',
  forge: 'forgeStatusRecord',
};

/** Where a record of this content belongs, and its key in ObservedState. */
function placeOf(kind: RecordKind, r: Record<string, string>): { path: string; id: string } {
  switch (kind) {
    case 'build':
      return { path: STATUS_LAYOUT.build(r.key), id: r.key };
    case 'release':
      return { path: STATUS_LAYOUT.release(r.distribution), id: r.distribution };
    case 'gate':
      return { path: STATUS_LAYOUT.gate(r.distribution, r.package, r.version), id: gateId(r.distribution, r.package, r.version) };
    case 'check':
      return { path: STATUS_LAYOUT.check(r.commit), id: r.commit };
    case 'condition':
      return { path: STATUS_LAYOUT.condition(r.type), id: r.type };
    case 'forge':
      return { path: forgeStatusPath(r.commit), id: r.commit };
  }
}

function lineOf(node: Node | null | undefined, lc: LineCounter): number | undefined {
  const start = node?.range?.[0];
  return start === undefined ? undefined : lc.linePos(start).line;
}

/** The YAML node at an ajv instancePath like /attempts/0/outcome (nearest existing ancestor). */
function nodeAt(root: Node | null, pointer: string): Node | null {
  let node: Node | null = root;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const next: unknown = isMap(node) ? node.get(key, true) : isSeq(node) ? node.get(Number(key), true) : undefined;
    if (!next || typeof next !== 'object') break;
    node = next as Node;
  }
  return node;
}

function describe(e: ErrorObject): string {
  const where = e.instancePath || '/';
  if (e.keyword === 'additionalProperties') return `${where}: unknown field '${(e.params as { additionalProperty: string }).additionalProperty}'`;
  if (e.keyword === 'required') return `${where}: missing field '${(e.params as { missingProperty: string }).missingProperty}'`;
  return `${where}: ${e.message}`;
}

/** Parse and validate the record at `path`. Files that hold no record kind are refused too. */
export function parseRecord(path: string, text: string): ParseOutcome {
  const kind = recordKindOf(path);
  if (!kind) return { ok: false, problem: { path, message: 'not a status record path (builds/, releases/, gates/, checks/, conditions/, forge/ *.yaml)' } };
  // Fast path: text this process serialised itself (its YAML parse would give back this data).
  const known = takeSerialized(text);
  if (known !== undefined) {
    const r = parseRecordData(path, known);
    if (r.ok) return r;
  }
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    return { ok: false, problem: { path, line: lc.linePos(e.pos[0]).line, message: `YAML: ${e.message.split('\n')[0]}` } };
  }
  const value: unknown = doc.toJS();
  const validate = validators[VALIDATOR[kind]] as ValidateFunction;
  if (!validate(value)) {
    const e = (validate.errors ?? [])[0];
    const field = e?.instancePath || '/';
    return { ok: false, problem: { path, field, line: lineOf(nodeAt(doc.contents, e?.instancePath ?? ''), lc), message: e ? describe(e) : 'invalid' } };
  }
  const place = placeOf(kind, value as Record<string, string>);
  if (place.path !== path) {
    return { ok: false, problem: { path, message: `this ${kind} record belongs at ${place.path}, not here` } };
  }
  return { ok: true, value: { kind, id: place.id, record: value } as ParsedRecord };
}

/** Validate data already parsed (e.g. from the snapshot cache) as the record at `path`. No line numbers. */
export function parseRecordData(path: string, data: unknown): ParseOutcome {
  const kind = recordKindOf(path);
  if (!kind) return { ok: false, problem: { path, message: 'not a status record path' } };
  const validate = validators[VALIDATOR[kind]] as ValidateFunction;
  if (!validate(data)) {
    const e = (validate.errors ?? [])[0];
    return { ok: false, problem: { path, field: e?.instancePath || '/', message: e ? describe(e) : 'invalid' } };
  }
  const place = placeOf(kind, data as Record<string, string>);
  if (place.path !== path) return { ok: false, problem: { path, message: `this ${kind} record belongs at ${place.path}, not here` } };
  return { ok: true, value: { kind, id: place.id, record: data } as ParsedRecord };
}

export function formatProblem(p: RecordProblem): string {
  return `${p.path}${p.line ? `:${p.line}` : ''}: ${p.message}`;
}
