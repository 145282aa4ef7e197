// The incremental half of assembling a desired state: when only package files changed
// since a valid snapshot (kiln.yaml, distributions and keys untouched, nothing invalid,
// no oci package involved, no file renamed its package), the previous state is patched
// for those files alone: their package rules, their diagnostics, their packages. The
// full assemble (read-desired.ts) stays the specification: anything else returns
// undefined and the caller runs it (test/unit/desired-incremental.test.ts compares both).
import type { Diagnostic } from '../../schema/errors.ts';
import type { PackageDoc } from '../../schema/metadata.ts';
import { LayeredMap } from '../collections/layered-map.ts';
import type { DesiredPackage, DesiredState } from '../model.ts';
import { normalisePackage } from './normalise.ts';
import { located, type DesiredSnapshot, type FileEntry, type FileTable } from './read-desired.ts';
import { packageRuleDiagnostics, type Located, type RuleMemo } from './rules.ts';
import { recordDesiredChanges } from './state-changes.ts';

export interface Assembled {
  diagnostics: Diagnostic[];
  state?: DesiredState;
}

/** Beyond this share of the files changed, the full assemble is as cheap. */
const MAX_CHANGED_SHARE = 0.25;

const isError = (d: Diagnostic) => d.severity === 'error';
const docOf = (e: FileEntry | undefined) => e?.parsed?.doc as PackageDoc | undefined;

/** A package file this path can take incrementally: parsed, valid, not oci. */
function plainPackage(e: FileEntry | undefined): boolean {
  if (!e) return true; // absent on this side (added or deleted)
  const doc = docOf(e);
  return e.kind === 'package' && doc !== undefined && doc.format !== 'oci' && !e.diagnostics.some(isError) && !e.parsed!.diagnostics.some(isError);
}

/**
 * `changed`: the paths whose entries differ from `prev.files` (deleted ones included), in the
 * order the new entries were added to `files`. Undefined when the full assemble must run.
 */
export function assembleChanged(commit: string, files: FileTable, prev: DesiredSnapshot, changed: readonly string[], compare: (a: Diagnostic, b: Diagnostic) => number, rules: RuleMemo): Assembled | undefined {
  const context = prev.ruleContext;
  if (!context || changed.length > Math.max(8, files.size * MAX_CHANGED_SHARE)) return undefined;
  const names = new Set<string>();
  for (const path of changed) {
    const before = prev.files.get(path);
    const after = files.get(path);
    if (!plainPackage(before) || !plainPackage(after) || (!before && !after)) return undefined;
    const was = docOf(before)?.name;
    const now = docOf(after)?.name;
    // A file that renamed its package moves it in the map's order: the full assemble places it.
    if (was !== undefined && now !== undefined && was !== now) return undefined;
    if (was !== undefined) names.add(was);
    if (now !== undefined) names.add(now);
  }
  // Names stay unique: a name now declared is not declared by an unchanged file nor twice here.
  const declared = new Set<string>();
  for (const path of changed) {
    const name = docOf(files.get(path))?.name;
    if (name === undefined) continue;
    const holder = prev.state.packages.get(name)?.file;
    if (declared.has(name) || (holder !== undefined && holder !== path && !changed.includes(holder))) return undefined;
    declared.add(name);
  }

  const packagesRead = changed.flatMap((path): Located<PackageDoc>[] => {
    const e = files.get(path);
    return e ? [located<PackageDoc>(e)] : [];
  });
  const fresh: Diagnostic[] = [];
  for (const path of changed) {
    const e = files.get(path);
    if (e) fresh.push(...e.diagnostics, ...e.parsed!.diagnostics);
  }
  fresh.push(...packageRuleDiagnostics(packagesRead, context, rules));
  if (fresh.some(isError)) return undefined;
  const gone = new Set(changed);
  const diagnostics = [...prev.warnings.filter((d) => !gone.has(d.file)), ...fresh].sort(compare);

  // Deleted files' packages go; a changed file keeps its package's place; an added file's comes last (as in `files`).
  // A new version of the previous map, not a copy: a pass costs its changes, not 10,000 entries.
  const packages = LayeredMap.from<string, DesiredPackage>(prev.state.packages).edit();
  for (const path of changed) {
    const was = docOf(prev.files.get(path))?.name;
    if (was !== undefined && (!files.has(path) || !prev.files.has(path))) packages.delete(was);
  }
  const appended: string[] = [];
  for (const { path, doc } of packagesRead) {
    const e = files.get(path)!;
    if (!prev.files.has(path)) {
      packages.delete(doc.name);
      appended.push(doc.name);
    }
    packages.set(doc.name, normalisePackage(path, doc, prev.state.config, e.source!, e.control));
  }
  const state: DesiredState = { commit, config: prev.state.config, packages: packages.done(), distributions: prev.state.distributions };
  recordDesiredChanges(state, { since: prev.state, packages: names, appended });
  return { diagnostics, state };
}
