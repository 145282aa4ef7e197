// What one reconcile pass observed and did, as data. The status commit is
// derived from these events against the branch as it is at commit time, so a
// retried commit (the branch moved) re-applies them instead of overwriting.
import type { BuildResult } from '../../schema/messages.ts';
import type { BuildRecord, CheckRecord, GateRecord, ReleaseRecord } from '../../schema/status.ts';
import type { BuildAction } from '../model.ts';
import type { PassOutcome } from './condition.ts';

export interface PassEvents {
  desiredCommit: string;
  /** False when the desired commit was refused: it must not become the last reconciled commit. */
  trusted: boolean;
  /** Verified results, in the order they were collected. */
  results: BuildResult[];
  dispatched: BuildAction[];
  releases: ReleaseRecord[];
  gates: GateRecord[];
  checks: CheckRecord[];
  /** build key -> [status path, armored detached signature] of its artifacts; written only with the result that produced them. */
  signatures: Map<string, Array<[string, string]>>;
  /** build key -> its rpms as header-signed at collect (format rpm); recorded only with the success that produced them. */
  signed: Map<string, NonNullable<BuildRecord['signed']>>;
  /** How the acting steps went (absent when the pass did not act: a refused commit). */
  outcome?: PassOutcome;
}

export function emptyEvents(desiredCommit: string): PassEvents {
  return { desiredCommit, trusted: true, results: [], dispatched: [], releases: [], gates: [], checks: [], signatures: new Map(), signed: new Map() };
}

export function hasEvents(e: PassEvents): boolean {
  return e.results.length + e.dispatched.length + e.releases.length + e.gates.length + e.checks.length + e.signatures.size > 0;
}
