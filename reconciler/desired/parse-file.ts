// One metadata file through the first stages of the pipeline:
// bounds -> UTF-8 -> YAML -> JSON Schema. Pure: bytes in, result out. Valid plain
// files take a fast parser; the positioned one explains every problem.
import { LineCounter, parseDocument, visit, type Document } from 'yaml';
import type { Diagnostic } from '../../schema/errors.ts';
import { DISTRIBUTION_SCHEMAS, kilnConfigSchema, METADATA_LIMITS, PACKAGE_SCHEMAS } from '../../schema/metadata.ts';
import type { DistributionDoc, KilnConfigDoc, PackageDoc } from '../../schema/metadata.ts';
import { distributionValidators, packageValidators, validators } from '../../schema/validate.ts';
import type { ValidateFunction } from 'ajv/dist/2020.js';
import { schemaDiagnostics } from './schema-errors.ts';
import { decodeUtf8, flowDepthExceeded, loneCarriageReturn } from './source-text.ts';
import { quote } from '../../schema/quote.ts';
import { fieldName, indexPositions, lookup, type PositionIndex } from './yaml-positions.ts';
import { fastParse } from './fast-yaml.ts';

export type FileKind = 'config' | 'package' | 'distribution';

interface Docs {
  config: KilnConfigDoc;
  package: PackageDoc;
  distribution: DistributionDoc;
}

export type ParsedFile = {
  [K in FileKind]: {
    path: string;
    kind: K;
    /** The validated document; absent when any stage failed. */
    doc?: Docs[K];
    positions: PositionIndex;
    diagnostics: Diagnostic[];
  };
}[FileKind];

/**
 * The schema and validator of one file: packages and distributions dispatch on `format:`.
 * An unknown or missing format is judged by the first variant, whose `format` enum names
 * every known one (so the error is the usual file:line `format` one).
 */
function schemaFor(kind: FileKind, data: unknown): { schema: object; validate: ValidateFunction } {
  const format = (data as { format?: unknown } | null)?.format;
  if (kind === 'package') return pickVariant(PACKAGE_SCHEMAS, packageValidators, format);
  if (kind === 'distribution') return pickVariant(DISTRIBUTION_SCHEMAS, distributionValidators, format);
  return { schema: kilnConfigSchema, validate: validators.kilnConfig };
}

// Module level, not a closure in schemaFor: tsx names every closure it creates (a defineProperty per file read).
function pickVariant<S extends Record<string, object>, V extends Record<keyof S, ValidateFunction>>(schemas: S, validate: V, format: unknown) {
  const key = (typeof format === 'string' && Object.hasOwn(schemas, format) ? format : Object.keys(schemas)[0]) as keyof S;
  return { schema: schemas[key], validate: validate[key] };
}
const EXPECTED: Record<FileKind, string> = {
  config: 'kiln.yaml settings (trust, signing, pools, defaults)',
  package: 'a package (name, version, source, format, architectures, …)',
  distribution: 'a distribution (name, format, suite, architectures, …)',
};

/**
 * Longest list accepted before schema validation: ajv's uniqueItems is
 * quadratic on enum items (20,000 items took 2 s), and no metadata list is long.
 */
export const MAX_LIST_ITEMS = 1000;

/** JSON pointer of the first list longer than MAX_LIST_ITEMS. */
function overlongList(v: unknown, pointer = ''): { pointer: string; length: number } | undefined {
  if (Array.isArray(v)) {
    if (v.length > MAX_LIST_ITEMS) return { pointer, length: v.length };
    for (let i = 0; i < v.length; i++) {
      const hit = overlongList(v[i], `${pointer}/${i}`);
      if (hit) return hit;
    }
  } else if (v && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      const hit = overlongList(x, `${pointer}/${k.replace(/~/g, '~0').replace(/\//g, '~1')}`);
      if (hit) return hit;
    }
  }
  return undefined;
}

const err = (file: string, message: string, line = 1, col = 1, path?: string): Diagnostic => ({ file, line, col, message, severity: 'error', ...(path !== undefined ? { path } : {}) });

/** Refuse a file by its size alone, before reading or parsing it. */
export function sizeProblem(file: string, size: number): Diagnostic | undefined {
  if (size <= METADATA_LIMITS.maxFileBytes) return undefined;
  return err(file, `file is ${size} bytes; metadata files are limited to ${METADATA_LIMITS.maxFileBytes} bytes (not parsed)`);
}

/** Bytes to text, refusing what neither parser should see (bad UTF-8, CR-only lines, deep brackets). */
function textOf(path: string, bytes: Uint8Array): { text: string } | { problem: Diagnostic } {
  const tooBig = sizeProblem(path, bytes.length);
  if (tooBig) return { problem: tooBig };
  const decoded = decodeUtf8(bytes);
  if (!decoded.ok) return { problem: err(path, `invalid UTF-8 at byte ${decoded.offset}: metadata files must be UTF-8 text`, decoded.line, decoded.col) };

  // YAML reads a lone CR as a line break, but most tools do not: such a file parsed as one long
  // line (a comment, or a nested mapping). Said plainly instead.
  const cr = loneCarriageReturn(decoded.text);
  if (cr) return { problem: err(path, 'line endings are CR only (classic Mac OS); save the file with LF (or CRLF) line endings', cr.line, cr.col) };

  const deep = flowDepthExceeded(decoded.text, METADATA_LIMITS.maxFlowDepth);
  if (deep) return { problem: err(path, `brackets nested more than ${METADATA_LIMITS.maxFlowDepth} deep (not parsed)`, deep.line, deep.col) };
  return { text: decoded.text };
}

/**
 * A file read by the fast path: where each value sits is worked out when first asked for (only
 * problems need it). A class with the getter on its prototype: an object literal with a getter
 * is made by a runtime call with a closure each (10,000 files: ≈ 9 against ≈ 3 ms in a fresh
 * process), and one added by defineProperty put each object into dictionary mode. Do not spread
 * or clone one (`{ ...file }`, structuredClone): that drops `positions` and copies the file's text.
 */
class FastParsedFile {
  readonly diagnostics: Diagnostic[] = [];
  private index?: PositionIndex;

  constructor(
    readonly path: string,
    readonly kind: FileKind,
    readonly doc: unknown,
    private readonly text: string,
  ) {}

  get positions(): PositionIndex {
    if (!this.index) {
      const lineCounter = new LineCounter();
      this.index = indexPositions(parseDocument(this.text, { lineCounter, uniqueKeys: true, strict: true }), lineCounter);
    }
    return this.index;
  }
}

function fastParsed(path: string, kind: FileKind, doc: unknown, text: string): ParsedFile {
  return new FastParsedFile(path, kind, doc, text) as ParsedFile;
}

/**
 * One metadata file through bounds, UTF-8, YAML and schema checks. A plain, valid file takes the
 * fast path (fast-yaml.ts, positions only when asked for); anything else, and every file with a
 * problem, goes through the positioned parser (parseFilePositioned), whose answer it equals.
 */
export function parseFile(path: string, kind: FileKind, bytes: Uint8Array): ParsedFile {
  const read = textOf(path, bytes);
  if ('problem' in read) return { path, kind, positions: {}, diagnostics: [read.problem] } as ParsedFile;
  const data = fastParse(read.text, MAX_LIST_ITEMS);
  if (data !== undefined && schemaFor(kind, data).validate(data)) {
    return fastParsed(path, kind, data, read.text);
  }
  return parsePositioned(path, kind, read.text);
}

/** The specification: every file through the positioned parser (parseFile's answer equals this one). */
export function parseFilePositioned(path: string, kind: FileKind, bytes: Uint8Array): ParsedFile {
  const read = textOf(path, bytes);
  if ('problem' in read) return { path, kind, positions: {}, diagnostics: [read.problem] } as ParsedFile;
  return parsePositioned(path, kind, read.text);
}

function parsePositioned(path: string, kind: FileKind, text: string): ParsedFile {
  const fail = (diagnostics: Diagnostic[], positions: PositionIndex = {}) => ({ path, kind, positions, diagnostics }) as ParsedFile;
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: true, strict: true });
  const yamlProblems: Diagnostic[] = [
    ...doc.errors.map((e) => err(path, yamlMessage(e.message), e.linePos?.[0].line, e.linePos?.[0].col)),
    ...doc.warnings.map((w) => ({ ...err(path, yamlMessage(w.message), w.linePos?.[0].line, w.linePos?.[0].col), severity: 'warning' as const })),
  ];
  if (doc.errors.length) return fail(yamlProblems);
  const positions = indexPositions(doc, lineCounter);
  const tagged = unsupportedTag(doc, lineCounter);
  if (tagged) return fail([err(path, `YAML tag ${quote(tagged.tag)} is not supported: metadata values are plain text, numbers, true/false, lists and maps`, tagged.line, tagged.col)], positions);

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: METADATA_LIMITS.maxAliasCount });
  } catch (e) {
    // yaml throws a ReferenceError when aliases expand past maxAliasCount (billion laughs).
    const first = firstAlias(doc, lineCounter);
    return fail([...yamlProblems, err(path, `too many YAML alias expansions (limit ${METADATA_LIMITS.maxAliasCount}): ${(e as Error).message}`, first?.line, first?.col)], positions);
  }
  if (data === null || data === undefined) return fail([...yamlProblems, err(path, `file is empty; expected ${EXPECTED[kind]}`)], positions);

  const long = overlongList(data);
  if (long) {
    const { line, col } = lookup(positions, long.pointer);
    return fail([...yamlProblems, err(path, `${fieldName(long.pointer) || 'the file'}: a list of ${long.length} items; the limit is ${MAX_LIST_ITEMS}`, line, col, long.pointer)], positions);
  }

  const { schema, validate } = schemaFor(kind, data);
  if (!validate(data)) return fail([...yamlProblems, ...schemaDiagnostics(path, validate.errors ?? [], schema, data, positions)], positions);
  return { path, kind, doc: data, positions, diagnostics: yamlProblems } as ParsedFile;
}

/** yaml's pretty messages end with a source excerpt; the diagnostic has line:col, so keep the first line. */
function yamlMessage(m: string): string {
  const first = m.split('\n')[0].replace(/ at line \d+, column \d+:?$/, '');
  return `YAML: ${first}`;
}

/** JSON's types: what the schema can check. Any other tag (!!binary, !!set, !!timestamp, !custom) is refused. */
const PLAIN_TAGS = new Set(['str', 'int', 'float', 'bool', 'null', 'map', 'seq'].map((t) => `tag:yaml.org,2002:${t}`));

function unsupportedTag(doc: Document, lc: LineCounter): { tag: string; line: number; col: number } | undefined {
  let found: { tag: string; line: number; col: number } | undefined;
  visit(doc, (_, node) => {
    const tag = (node as { tag?: string } | null)?.tag;
    if (!tag || PLAIN_TAGS.has(tag)) return undefined;
    const range = (node as { range?: [number, number, number] }).range;
    found = { tag: tag.replace(/^tag:yaml\.org,2002:/, '!!'), ...(range ? lc.linePos(range[0]) : { line: 1, col: 1 }) };
    return visit.BREAK;
  });
  return found;
}

function firstAlias(doc: Document, lc: LineCounter): { line: number; col: number } | undefined {
  let found: { line: number; col: number } | undefined;
  visit(doc, {
    Alias(_, node) {
      if (node.range) found = lc.linePos(node.range[0]);
      return visit.BREAK;
    },
  });
  return found;
}
