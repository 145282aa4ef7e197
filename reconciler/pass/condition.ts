// Pure: the reconciler's Ready condition after a pass (Flux style). A pass that
// failed at a step after observing says which step and why; results it cannot
// judge (its own registry access refused or down: unjudged.ts) say so next; the
// next pass that gets through says Reconciled. `since` moves only when status or
// reason does, so a run of good passes writes nothing new.
import type { ConditionRecord, PassStepName } from '../../schema/status.ts';
import type { Unjudged } from './unjudged.ts';

export interface PassOutcome {
  /** The step that failed, with its error message; absent when every step completed. */
  failed?: { step: PassStepName; message: string };
  /** Build results handed back unjudged and not judged since (unjudged.ts). */
  unjudged?: Unjudged[];
}

const REASON: Record<PassStepName, string> = { dispatch: 'DispatchFailed', gate: 'GateFailed', publish: 'PublishFailed', record: 'RecordFailed' };

/** Pure: the condition's message for results handed back unjudged: how many, and each distinct reason once. */
export function unjudgedMessage(unjudged: readonly Unjudged[]): string {
  const reasons = [...new Set(unjudged.map((u) => u.reason))].sort();
  const n = unjudged.length;
  return `${n} build result${n === 1 ? '' : 's'} handed back unjudged (nothing recorded, no attempt used): ${reasons.join('; ')}`;
}

function notReady(outcome: PassOutcome): Omit<ConditionRecord, 'since' | 'type' | 'status'> | undefined {
  if (outcome.failed) return { reason: REASON[outcome.failed.step], message: outcome.failed.message.slice(0, 2000), step: outcome.failed.step };
  if (outcome.unjudged?.length) return { reason: 'ResultsUnjudged', message: unjudgedMessage(outcome.unjudged).slice(0, 2000) };
  return undefined;
}

export function nextCondition(current: ConditionRecord | undefined, outcome: PassOutcome, now: Date): ConditionRecord {
  const problem = notReady(outcome);
  const next: Omit<ConditionRecord, 'since'> = problem
    ? { type: 'Ready', status: 'False', ...problem }
    : { type: 'Ready', status: 'True', reason: 'Reconciled', message: 'every planned step completed' };
  const same = current && current.status === next.status && current.reason === next.reason;
  return { ...next, since: same ? current.since : now.toISOString() };
}
