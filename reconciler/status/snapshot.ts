// An ObservedState plus what is needed to update it cheaply: which status
// commit it came from, which path holds which record, and the files that were
// unusable. Pure: applying file changes never mutates the previous snapshot.
import { LayeredMap } from '../collections/layered-map.ts';
import { emptyObserved, type ObservedState } from '../model.ts';
import { recordBuildChanges } from './build-changes.ts';
import { parseRecord, recordKindOf, type ParsedRecord, type RecordKind, type RecordProblem } from './parse-record.ts';

export interface ObservedSnapshot {
  /** The status commit this was read from (undefined: no status branch yet). */
  readonly commit?: string;
  readonly state: ObservedState;
  /**
   * path -> the record it holds, so a deleted file removes the right entry. Persistent
   * (collections/layered-map.ts): the next snapshot shares it but for the changed paths.
   */
  readonly index: RecordIndex;
  /**
   * Status files that were skipped: unparseable or invalid. A bad file never
   * stops the reader: its record is treated as absent (so the planner may redo
   * that work, which rewrites the file) and the problem is reported here.
   */
  readonly problems: ReadonlyMap<string, RecordProblem>;
}

export type RecordIndex = LayeredMap<string, { kind: RecordKind; id: string }>;

export function emptySnapshot(): ObservedSnapshot {
  return { state: emptyObserved(), index: LayeredMap.empty(), problems: new Map() };
}

/** path -> new content (null: deleted). Non-record paths are ignored. */
export type FileChanges = ReadonlyMap<string, string | null>;

/** A parsed change: the record at a path, or null when the path was deleted or is unusable. */
export type ParsedChanges = Map<string, ParsedRecord | RecordProblem | null>;

/** Parse every record file among `changes`; other paths are dropped. */
export function parseChanges(changes: FileChanges): ParsedChanges {
  const out: ParsedChanges = new Map();
  for (const [path, content] of changes) {
    if (!recordKindOf(path)) continue;
    if (content === null) out.set(path, null);
    else {
      const r = parseRecord(path, content);
      out.set(path, r.ok ? r.value : r.problem);
    }
  }
  return out;
}

const isProblem = (v: ParsedRecord | RecordProblem): v is RecordProblem => 'message' in v && !('kind' in v);

/** The map of `state` that holds records of `kind`. */
export function mapOf(state: ObservedState, kind: RecordKind): Map<string, unknown> {
  switch (kind) {
    case 'build':
      return state.builds;
    case 'release':
      return state.releases;
    case 'gate':
      return state.gates;
    case 'check':
      return state.checks;
    case 'condition':
      return state.conditions;
    case 'forge':
      return state.forge;
  }
}

/** A new snapshot: `prev` with `changes` applied, now at `commit` / `desiredCommit`. */
export function applyChanges(
  prev: ObservedSnapshot,
  changes: ParsedChanges,
  at: { commit?: string; desiredCommit?: string },
): ObservedSnapshot {
  // Copy only the maps this change touches; the rest are shared (never mutated).
  const touched = new Set<RecordKind>();
  for (const [path, v] of changes) {
    const old = prev.index.get(path);
    if (old) touched.add(old.kind);
    if (v && !isProblem(v)) touched.add(v.kind);
  }
  const s = prev.state;
  const state: ObservedState = {
    statusCommit: at.commit,
    desiredCommit: at.desiredCommit,
    builds: touched.has('build') ? new Map(s.builds) : s.builds,
    releases: touched.has('release') ? new Map(s.releases) : s.releases,
    gates: touched.has('gate') ? new Map(s.gates) : s.gates,
    checks: touched.has('check') ? new Map(s.checks) : s.checks,
    conditions: touched.has('condition') ? new Map(s.conditions) : s.conditions,
    forge: touched.has('forge') ? new Map(s.forge) : s.forge,
  };
  const index = prev.index.edit();
  const problems = new Map(prev.problems);
  const buildKeys: string[] = [];
  for (const [path, v] of changes) {
    const old = index.get(path);
    if (old) {
      mapOf(state, old.kind).delete(old.id);
      index.delete(path);
      if (old.kind === 'build') buildKeys.push(old.id);
    }
    problems.delete(path);
    if (!v) continue;
    if (isProblem(v)) {
      problems.set(path, v);
      continue;
    }
    mapOf(state, v.kind).set(v.id, v.record);
    index.set(path, { kind: v.kind, id: v.id });
    if (v.kind === 'build') buildKeys.push(v.id);
  }
  // The planner asks what changed instead of comparing every record (build-changes.ts).
  recordBuildChanges(state.builds, s.builds, buildKeys);
  return { commit: at.commit, state, index: index.done(), problems };
}
