// The forge's part of a reconcile pass: the `kiln/reconcile` records for the
// pass's desired commit (and the commits it skipped) are added to the pass's
// own signed status commit, so the outcome and what the forge will be told
// about it become durable together. Sending happens later, from the outbox.
import type { InvalidMetadataError } from '../../schema/errors.ts';
import { formatDiagnostic } from '../../schema/errors.ts';
import { TRAILERS } from '../../schema/status.ts';
import { readCommitInfo, type GitCache } from '../git/tree.ts';
import type { ObservedState, Plan } from '../model.ts';
import { forgeStatusFile } from '../status/records.ts';
import type { StatusChange } from '../status/writer.ts';
import type { TrustVerdict } from '../trust/index.ts';
import { reconcileStatusChanges, type ReconcileOutcome } from './reconcile-status.ts';

/** Commits skipped between two passes that get their own "superseded" status; older ones are left alone. */
export const MAX_SKIPPED = 50;

/** Given the branch as it is at commit time, the forge record files to write. */
export type ForgeFiles = (current: ObservedState) => Map<string, string>;

export interface ForgeStepInput {
  dir: string;
  cache: GitCache;
  head: string;
  observed: ObservedState;
  outcome: ReconcileOutcome;
  now: Date;
}

/**
 * First-parent commits after the last one Kiln knows (one with a record, or the
 * last reconciled commit) up to `head`, excluding both ends, newest first. A repo
 * new to Kiln has no such anchor: nothing before `head` is reported.
 */
export async function skippedCommits(dir: string, cache: GitCache, head: string, observed: ObservedState): Promise<string[]> {
  const anchor = observed.desiredCommit;
  if (!anchor && observed.forge.size === 0) return [];
  const out: string[] = [];
  let oid: string | undefined = (await readCommitInfo(dir, head, cache)).parent[0];
  while (oid && oid !== anchor && !observed.forge.has(oid) && out.length < MAX_SKIPPED) {
    out.push(oid);
    oid = (await readCommitInfo(dir, oid, cache)).parent[0];
  }
  // Only a walk that met the anchor or a known commit names what was skipped; one that ran past the limit
  // or to the root means the anchor is not an ancestor (a rewritten branch): report nothing rather than guess.
  return oid !== undefined && (oid === anchor || observed.forge.has(oid)) ? out : [];
}

export async function prepareForgeFiles(input: ForgeStepInput): Promise<ForgeFiles> {
  const skipped = await skippedCommits(input.dir, input.cache, input.head, input.observed);
  return (current) => {
    const records = reconcileStatusChanges(current.forge, { head: input.head, skipped, outcome: input.outcome, now: input.now });
    return new Map(records.map(forgeStatusFile));
  };
}

const describe = (records: number) => `report ${records} commit status${records === 1 ? '' : 'es'} to the forge`;

/** The pass's status change with the forge records added (or made of them alone when the pass had nothing else to write). */
export function withForgeFiles(change: StatusChange | null, forge: Map<string, string> | undefined, head: string, trusted: boolean): StatusChange | null {
  if (!forge?.size) return change;
  if (change) return { ...change, files: new Map([...change.files, ...forge]) };
  // Only a trusted commit becomes Kiln-Desired (the trust anchor); otherwise the writer keeps the previous one.
  return { files: forge, summary: `kiln: ${describe(forge.size)} (desired ${head.slice(0, 12)})`, trailers: trusted ? { [TRAILERS.desired]: head } : {} };
}

/** What the pass found out about its commit, for its status. */
export function outcomeOf(plan: Plan, trust: TrustVerdict, invalid: InvalidMetadataError | undefined): ReconcileOutcome {
  if (invalid) return { kind: 'invalid', reason: invalidReason(invalid) };
  return trust.trusted ? { kind: 'planned', plan } : { kind: 'refused', reason: trust.reason };
}

/** One line for an invalid commit's failure status: how many problems, and the first. */
export function invalidReason(e: InvalidMetadataError): string {
  const errors = e.diagnostics.filter((d) => d.severity === 'error');
  const first = errors[0] ? formatDiagnostic(errors[0]) : e.message;
  return `${errors.length} problem${errors.length === 1 ? '' : 's'}: ${first}`;
}
