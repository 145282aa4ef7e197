// The desired state at one commit of the metadata repo. I/O at the edges
// (git reads, source resolution); the stages in between are pure:
//   list/diff tree -> per file: bounds, UTF-8, YAML, schema (parse-file.ts)
//   -> resolve source refs -> normalise -> semantic rules (rules.ts).
// Incremental: given the previous snapshot, only files the tree diff names
// are re-read; rules and normalisation rerun over the merged set (cheap).
import type { Logger } from 'pino';
import { InvalidMetadataError, type Diagnostic } from '../../schema/errors.ts';
import { METADATA_LAYOUT, METADATA_LIMITS } from '../../schema/metadata.ts';
import type { DistributionDoc, KilnConfigDoc, PackageDoc } from '../../schema/metadata.ts';
import { diffCommits, listFiles, prepareObjects, readBlobWithin, readPackedBlobWithin, resolveCommit, type GitCache } from '../git/tree.ts';
import type { DesiredDistribution, DesiredPackage, DesiredState } from '../model.ts';
import { classifyPath, METADATA_PREFIXES } from './layout.ts';
import { normaliseConfig, normaliseDistribution, normalisePackage, plainHttpHosts } from './normalise.ts';
import { parseFile, sizeProblem, type ParsedFile } from './parse-file.ts';
import { emptyRuleMemo, runRules, type Located, type RuleContext, type RuleMemo } from './rules.ts';
import { assembleChanged, type Assembled } from './assemble-changed.ts';
import { defaultControlReader, type ControlReader, type SourceControl } from './source-control.ts';
import { defaultSourceResolver, type SourceResolver } from './source-resolver.ts';
import { checkSpecs, type SpecChecker } from './spec-check.ts';
import { sourceBaseOf } from './source-base.ts';
import { resolveSources, READ_CONCURRENCY } from './resolve-sources.ts';
import { LayeredMap } from '../collections/layered-map.ts';
import pMap from 'p-map';

/** What one file of the tree contributed, remembered between reads. */
export interface FileEntry {
  path: string;
  oid: string;
  mode: string;
  kind: ReturnType<typeof classifyPath>['kind'];
  parsed?: ParsedFile;
  /** Problems found outside parsing (mode, size, source resolution). */
  diagnostics: Diagnostic[];
  /** Package files: where the source is and the commit its ref named when read. */
  source?: { url: string; commit: string };
  /** Package files: debian/control at that commit. */
  control?: SourceControl;
}

/**
 * The files of a snapshot, read-only. The reader keeps them in a persistent ordered map
 * (collections/layered-map.ts), so the next read shares all but the changed entries instead
 * of copying 10,000; any Map will do for a caller that builds a snapshot itself (tests).
 */
export interface FileTable {
  get(path: string): FileEntry | undefined;
  has(path: string): boolean;
  keys(): Iterable<string>;
  values(): Iterable<FileEntry>;
  readonly size: number;
}

export interface DesiredSnapshot {
  dir: string;
  commit: string;
  files: FileTable;
  state: DesiredState;
  warnings: Diagnostic[];
  /** Package-rule results by parsed document, handed to the next read. */
  rules?: RuleMemo;
  /** What package rules looked at besides the packages (an incremental assemble reuses it). */
  ruleContext?: RuleContext;
}

export interface ReadDesiredOptions {
  /** The metadata repo (work tree or bare). */
  dir: string;
  rev: string;
  cache: GitCache;
  previous?: DesiredSnapshot;
  resolveSource?: SourceResolver;
  /** Reads debian/control at a package's pinned commit (default: defaultControlReader()). */
  readControl?: ControlReader;
  /** Holds rpm packages' name and version against their spec (spec-check.ts); absent: not checked here (the agent still checks). */
  checkSpec?: SpecChecker;
  /**
   * Re-resolve the source refs of unchanged package files too (a branch in a
   * source repo may have moved while the metadata repo did not). Default false:
   * a snapshot pins what each ref named when its file was read.
   */
  refreshSources?: boolean;
  log?: Logger;
}

export interface DesiredEvaluation {
  commit: string;
  /** Errors and warnings, sorted by file, line, column. */
  diagnostics: Diagnostic[];
  /** Present only when there are no errors. */
  state?: DesiredState;
  snapshot?: DesiredSnapshot;
  /** Files parsed in this call (the rest came from `previous`). */
  reread: number;
}

/** One for the process: it remembers each (source, commit)'s debian/control. */
const defaultReader = defaultControlReader();
const FULL_OID = /^[0-9a-f]{40}$/;

const problem = (file: string, message: string, line = 1, col = 1, path?: string): Diagnostic => ({ file, line, col, message, severity: 'error', ...(path ? { path } : {}) });

type ToRead = { path: string; oid: string; mode: string };

/** A file's entry from its path and mode alone, and the kind of metadata file to read, if it is one. */
function classified(f: ToRead): { entry: FileEntry; kind?: 'config' | 'package' | 'distribution' } {
  const cls = classifyPath(f.path, f.mode);
  const entry: FileEntry = { path: f.path, oid: f.oid, mode: f.mode, kind: cls.kind, diagnostics: [] };
  if (cls.kind === 'refused') entry.diagnostics.push(problem(f.path, cls.error));
  if (cls.kind === 'ignored' && cls.warning) entry.diagnostics.push({ ...problem(f.path, cls.warning), severity: 'warning' });
  return cls.kind === 'config' || cls.kind === 'package' || cls.kind === 'distribution' ? { entry, kind: cls.kind } : { entry };
}

/**
 * One file through bounds, mode, UTF-8, YAML and schema checks when that needs no waiting (not a
 * metadata file, or its blob in an indexed pack: the usual case); undefined otherwise.
 */
function readEntryNow(dir: string, cache: GitCache, f: ToRead): FileEntry | undefined {
  const { entry, kind } = classified(f);
  if (!kind) return entry;
  // The size comes from the object header: an oversized file is refused unread.
  const blob = readPackedBlobWithin(dir, f.oid, cache, METADATA_LIMITS.maxFileBytes);
  return blob && withBlob(entry, kind, blob);
}

/** The same for a blob found elsewhere (loose, a pack written since the scan). */
async function readEntryLater(dir: string, cache: GitCache, f: ToRead): Promise<FileEntry> {
  const { entry, kind } = classified(f);
  if (!kind) return entry;
  return withBlob(entry, kind, await readBlobWithin(dir, f.oid, cache, METADATA_LIMITS.maxFileBytes));
}

function withBlob(entry: FileEntry, kind: 'config' | 'package' | 'distribution', blob: { size: number; bytes?: Uint8Array }): FileEntry {
  const tooBig = sizeProblem(entry.path, blob.size);
  if (tooBig || !blob.bytes) {
    entry.diagnostics.push(tooBig ?? problem(entry.path, 'unreadable blob'));
    return entry;
  }
  entry.parsed = parseFile(entry.path, kind, blob.bytes);
  return entry;
}

/**
 * Every file of `toRead`, in its order: the packed ones in one loop without a promise each (all
 * their work is synchronous; an async round per file cost a cold read ≈ 5% in a CPU profile), the
 * rest READ_CONCURRENCY at a time.
 */
async function readEntries(dir: string, cache: GitCache, toRead: readonly ToRead[]): Promise<FileEntry[]> {
  await prepareObjects(dir, cache);
  const out: FileEntry[] = new Array(toRead.length);
  const later: number[] = [];
  for (let i = 0; i < toRead.length; i++) {
    const e = readEntryNow(dir, cache, toRead[i]);
    if (e) out[i] = e;
    else later.push(i);
  }
  await pMap(later, async (i) => (out[i] = await readEntryLater(dir, cache, toRead[i])), { concurrency: READ_CONCURRENCY });
  return out;
}

/** A parsed file for the rules (a class: its getter on the prototype, not a closure per file). */
class LocatedFile<T> implements Located<T> {
  constructor(
    readonly path: string,
    readonly doc: T,
    private readonly parsed: ParsedFile,
  ) {}

  /** Asked of the parse only when a rule reports a problem. */
  get positions() {
    return this.parsed.positions;
  }
}

export function located<T>(e: FileEntry): Located<T> {
  return new LocatedFile(e.path, e.parsed!.doc as T, e.parsed!);
}

function compareDiagnostics(a: Diagnostic, b: Diagnostic): number {
  return a.file < b.file ? -1 : a.file > b.file ? 1 : (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0);
}

/**
 * The same file resolved to the same source: a refresh of source refs copies every entry, and a
 * ref that still names the same commit (with the same debian/control) must keep its package object.
 */
function sameResolution(a: FileEntry | undefined, b: FileEntry): boolean {
  if (a === b) return true;
  return a !== undefined && a.parsed === b.parsed && a.source?.url === b.source?.url && a.source?.commit === b.source?.commit && a.control === b.control;
}

/**
 * Normalise and check the whole set of files. Pure. With `changed` (the paths whose entries differ
 * from `prev`'s, in the order they were added to `files`), only those are looked at when nothing
 * but valid package files changed (assemble-changed.ts); the result is the same.
 */
export function assemble(commit: string, files: FileTable, prev?: DesiredSnapshot, rules: RuleMemo = emptyRuleMemo(), changed?: readonly string[]): Assembled & { ruleContext?: RuleContext } {
  const patched = prev && changed ? assembleChanged(commit, files, prev, changed, compareDiagnostics, rules) : undefined;
  if (patched) return { ...patched, ruleContext: prev!.ruleContext };
  const diagnostics: Diagnostic[] = [];
  const ok = (e: FileEntry) => e.parsed?.doc !== undefined;
  // One walk over the files (in their order) for every list the rules need.
  const packages: Array<Located<PackageDoc>> = [];
  const distributions: Array<Located<DistributionDoc>> = [];
  const unparsed = new Set<string>();
  const keyFiles = new Set<string>();
  for (const e of files.values()) {
    if (e.diagnostics.length) diagnostics.push(...e.diagnostics);
    if (e.parsed?.diagnostics.length) diagnostics.push(...e.parsed.diagnostics);
    if (e.kind === 'package' || e.kind === 'distribution') {
      if (!ok(e)) unparsed.add(e.path);
      else if (e.kind === 'package') packages.push(located<PackageDoc>(e));
      else distributions.push(located<DistributionDoc>(e));
    } else if (e.kind === 'key') keyFiles.add(e.path);
  }
  if (files.size > METADATA_LIMITS.maxFiles) diagnostics.push(problem('.', `the metadata repo has ${files.size} files; the limit is ${METADATA_LIMITS.maxFiles}`));
  const configEntry = files.get(METADATA_LAYOUT.config);
  const config = configEntry && ok(configEntry) ? located<KilnConfigDoc>(configEntry) : undefined;
  const resolvedConfig = normaliseConfig(config?.doc);
  const configBroken = configEntry !== undefined && !config;
  const ruleContext: RuleContext = { config, resolvedConfig, distributions, keyFiles, unparsed, configBroken };
  diagnostics.push(...runRules({ ...ruleContext, packages }, rules));
  diagnostics.sort(compareDiagnostics);
  if (diagnostics.some((d) => d.severity === 'error') || configBroken) return { diagnostics };

  // An unchanged file under an unchanged kiln.yaml normalises to the same package: reuse the
  // previous object, so everything memoised on it (build keys) stays valid and cheap.
  const sameConfig = prev !== undefined && prev.files.get(METADATA_LAYOUT.config) === configEntry;
  const desiredConfig = sameConfig ? prev.state.config : resolvedConfig;
  const pkgs = new Map<string, DesiredPackage>();
  for (const p of packages) {
    const before = sameConfig && sameResolution(prev.files.get(p.path), files.get(p.path)!) ? prev.state.packages.get(p.doc.name) : undefined;
    pkgs.set(p.doc.name, before ?? normalisePackage(p.path, p.doc, desiredConfig, files.get(p.path)!.source!, files.get(p.path)!.control));
  }
  const dists = new Map<string, DesiredDistribution>();
  const plainHttp = plainHttpHosts(desiredConfig, distributions.map((d) => d.doc));
  for (const d of distributions) dists.set(d.doc.name, normaliseDistribution(d.path, d.doc, desiredConfig, plainHttp));
  return { diagnostics, state: { commit, config: desiredConfig, packages: pkgs, distributions: dists }, ruleContext };
}

/** Read and check the desired state; never throws for bad metadata (see `diagnostics`). */
export async function evaluateDesired(opts: ReadDesiredOptions): Promise<DesiredEvaluation> {
  const { dir, cache } = opts;
  const commit = await resolveCommit(dir, opts.rev, cache);
  const prev = opts.previous?.dir === dir ? opts.previous : undefined;
  if (prev?.commit === commit && !opts.refreshSources) return { commit, diagnostics: prev.warnings, state: prev.state, snapshot: prev, reread: 0 };

  // Mutable while this read fills it (changes stay private to it), frozen into the snapshot below.
  let files = LayeredMap.empty<string, FileEntry>().edit();
  let toRead: Array<{ path: string; oid: string; mode: string }> | undefined;
  let deleted: string[] | undefined;
  if (prev) {
    try {
      const changes = await diffCommits(dir, prev.commit, commit, cache, { prefixes: METADATA_PREFIXES });
      files = LayeredMap.from(prev.files).edit();
      deleted = changes.filter((c) => c.change === 'delete').map((c) => c.path);
      for (const path of deleted) files.delete(path);
      toRead = changes.filter((c) => c.change !== 'delete').map((c) => ({ path: c.path, oid: c.oid!, mode: c.mode! }));
    } catch (e) {
      // The previous commit is gone (history rewritten and pruned): read everything.
      opts.log?.warn({ err: e, previous: prev.commit }, 'cannot diff against the previous desired commit; reading it all');
    }
  }
  toRead ??= await listFiles(dir, commit, cache, { prefixes: METADATA_PREFIXES });
  if (files.size + toRead.filter((f) => !files.has(f.path)).length > METADATA_LIMITS.maxFiles) {
    return { commit, diagnostics: [problem('.', `the metadata repo has more than ${METADATA_LIMITS.maxFiles} files under ${METADATA_PREFIXES.join(', ')}`)], reread: 0 };
  }
  const read = await readEntries(dir, cache, toRead);
  for (const e of read) files.set(e.path, e);
  // A full commit id names the same commit for ever: only branches and tags can move.
  const movable = (e: FileEntry) => e.parsed?.kind !== 'package' || !e.source || !FULL_OID.test(e.parsed.doc?.source.ref ?? '');
  const resolveAgain = opts.refreshSources ? [...files.values()].filter((e) => e.kind === 'package' && !read.includes(e) && movable(e)) : [];
  // Copies, so the previous snapshot's entries are never mutated.
  for (const e of resolveAgain) files.set(e.path, { ...e, source: undefined, control: undefined, diagnostics: e.diagnostics.filter((d) => !d.path?.startsWith('/source')) });
  const resolve = opts.resolveSource ?? defaultSourceResolver();
  const readControl = opts.readControl ?? defaultReader;
  const base = await sourceBaseOf(dir);
  await resolveSources([...read, ...resolveAgain.map((e) => files.get(e.path)!)], base, resolve, readControl);

  const rules = prev?.rules ?? emptyRuleMemo();
  // Paths whose entries differ from prev's: the tree diff's (in the order `files` got them), and any source refreshed.
  const changed = deleted ? [...deleted, ...read.map((e) => e.path), ...resolveAgain.map((e) => e.path)] : undefined;
  const table = files.done();
  const { diagnostics, state, ruleContext } = assemble(commit, table, prev, rules, changed);
  if (state && opts.checkSpec) {
    diagnostics.push(...(await checkSpecs(state.packages.values(), (file) => files.get(file)?.parsed?.positions ?? {}, opts.checkSpec)));
    diagnostics.sort(compareDiagnostics);
    if (diagnostics.some((d) => d.severity === 'error')) return { commit, diagnostics, reread: read.length };
  }
  opts.log?.debug({ commit, reread: read.length, files: files.size, problems: diagnostics.length }, 'read desired state');
  if (!state) return { commit, diagnostics, reread: read.length };
  const snapshot: DesiredSnapshot = { dir, commit, files: table, state, warnings: diagnostics, rules, ...(ruleContext ? { ruleContext } : {}) };
  return { commit, diagnostics, state, snapshot, reread: read.length };
}

/** The desired state at `rev`, or InvalidMetadataError carrying every diagnostic. */
export async function readDesired(opts: ReadDesiredOptions): Promise<{ state: DesiredState; snapshot: DesiredSnapshot; warnings: Diagnostic[] }> {
  const ev = await evaluateDesired(opts);
  if (!ev.state || !ev.snapshot) throw new InvalidMetadataError(ev.diagnostics, ev.commit);
  return { state: ev.state, snapshot: ev.snapshot, warnings: ev.diagnostics };
}
