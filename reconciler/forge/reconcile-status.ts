// Pure: which `kiln/reconcile` statuses a pass adds to the forge records on
// kiln/status. Every desired commit gets `pending` when first seen and then
// exactly one final state; a record that is final is never touched again, so
// re-applying this after a compare-and-set conflict cannot contradict it.
import { WAIT_REASONS } from '../../schema/conditions.ts';
import { FORGE_CONTEXTS, FORGE_DESCRIPTION_MAX, type ForgeState, type ForgeStatus, type ForgeStatusRecord } from '../../schema/forge.ts';
import type { Plan } from '../model.ts';

/** What the pass found out about its desired commit. */
export type ReconcileOutcome =
  | { kind: 'refused'; reason: string }
  | { kind: 'invalid'; reason: string }
  /** Trusted and valid: final once the plan has nothing left to do or wait for. */
  | { kind: 'planned'; plan: Plan };

export interface ForgeStatusInput {
  /** The desired commit of this pass. */
  head: string;
  /** Commits on the tracked branch between the last one seen and `head` (first parents, excluding head). */
  skipped: string[];
  outcome: ReconcileOutcome;
  now: Date;
}

const short = (sha: string) => sha.slice(0, 12);

/** A status description fits the forge's limit; what is cut is marked. */
export function statusDescription(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length <= FORGE_DESCRIPTION_MAX ? line : line.slice(0, FORGE_DESCRIPTION_MAX - 1) + '…';
}

/** One status entry, its description made to fit. */
export const forgeStatus = (state: ForgeState, description: string, now: Date): ForgeStatus => ({ state, description: statusDescription(description), at: now.toISOString() });

export const isFinal = (r: Pick<ForgeStatusRecord, 'statuses'>) => r.statuses.some((s) => s.state !== 'pending');

/** Waits that resolve by themselves (a build running or retrying): the outcome is not known yet. */
const IN_PROGRESS = new Set<string>([WAIT_REASONS.building, WAIT_REASONS.retryBackoff]);
/** Waits that stay until a human acts: the commit's outcome is a failure. */
const FAILED = new Set<string>([WAIT_REASONS.failed, WAIT_REASONS.gaveUp, WAIT_REASONS.gateFailed]);

/** The final status of the pass's commit, or undefined while work is still under way. */
export function finalStatus(outcome: ReconcileOutcome, now: Date): ForgeStatus | undefined {
  if (outcome.kind === 'refused') return forgeStatus('failure', `refused: ${outcome.reason}`, now);
  if (outcome.kind === 'invalid') return forgeStatus('failure', `invalid: ${outcome.reason}`, now);
  const { plan } = outcome;
  if (plan.actions.length > 0 || plan.waiting.some((w) => IN_PROGRESS.has(w.reason))) return undefined;
  const failed = plan.waiting.filter((w) => FAILED.has(w.reason));
  if (failed.length) {
    const more = failed.length > 1 ? ` (and ${failed.length - 1} more)` : '';
    return forgeStatus('failure', `build failed: ${failed[0].subject}: ${failed[0].message}${more}`, now);
  }
  // Anything else still waiting (e.g. a release waiting for a source distribution) waits on work in progress.
  if (plan.waiting.length > 0) return undefined;
  return forgeStatus('success', 'built and published as desired', now);
}

/** The records to write (new or changed); empty when the branch already says it all. */
export function reconcileStatusChanges(current: ReadonlyMap<string, ForgeStatusRecord>, input: ForgeStatusInput): ForgeStatusRecord[] {
  const { head, now } = input;
  const out: ForgeStatusRecord[] = [];
  const superseded = () => forgeStatus('success', `superseded by ${short(head)}`, now);
  const seen = () => forgeStatus('pending', 'seen: waiting to be reconciled', now);
  for (const r of current.values()) {
    if (r.commit !== head && !isFinal(r)) out.push({ ...r, statuses: [...r.statuses, superseded()] });
  }
  for (const commit of input.skipped) {
    if (commit !== head && !current.has(commit)) out.push({ commit, context: FORGE_CONTEXTS.reconcile, statuses: [seen(), superseded()] });
  }
  const existing = current.get(head);
  if (existing && isFinal(existing)) return out;
  const pending = existing?.statuses ?? [forgeStatus('pending', 'reconciling', now)];
  const final = finalStatus(input.outcome, now);
  if (existing && !final) return out;
  out.push({ commit: head, context: FORGE_CONTEXTS.reconcile, statuses: final ? [...pending, final] : pending });
  return out;
}
