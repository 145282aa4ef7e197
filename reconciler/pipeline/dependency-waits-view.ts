// Pure: the builds a plan holds back because of their in-repo Build-Depends
// (plan/dependency-waits.ts), as rows for `kiln builds`: not dispatched, so no
// record on kiln/status says so.
import { WAIT_REASONS } from '../../schema/conditions.ts';
import type { Waiting } from '../model.ts';

const DEPENDENCY_REASONS: ReadonlySet<string> = new Set([
  WAIT_REASONS.awaitingDependency,
  WAIT_REASONS.dependencyFailed,
  WAIT_REASONS.dependencyCycle,
  WAIT_REASONS.duplicateBinary,
  WAIT_REASONS.badBuildDepends,
]);

export interface WaitRow {
  package: string;
  arch: string;
  reason: string;
  message: string;
}

/** Build waits look like `build NAME/ARCH KEY12` (plan/plan-builds.ts). */
export function dependencyWaitRows(waiting: Waiting[]): WaitRow[] {
  return waiting.flatMap((w) => {
    const m = /^build ([^/\s]+)\/(\S+) /.exec(w.subject);
    return m && DEPENDENCY_REASONS.has(w.reason) ? [{ package: m[1], arch: m[2], reason: w.reason, message: w.message }] : [];
  });
}

export function formatWaits(rows: WaitRow[]): string {
  if (rows.length === 0) return '';
  return ['', '', 'Not dispatched (in-repo Build-Depends):', ...rows.map((r) => `  …  ${r.package} ${r.arch}  ${r.reason}\n      ${r.message}`)].join('\n');
}
