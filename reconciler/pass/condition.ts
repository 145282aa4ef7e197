// Pure: the reconciler's Ready condition after a pass (Flux style). A pass that
// failed at a step after observing says which step and why; the next pass that
// gets through says Reconciled. `since` moves only when status or reason does,
// so a run of good passes writes nothing new.
import type { ConditionRecord, PassStepName } from '../../schema/status.ts';

export interface PassOutcome {
  /** The step that failed, with its error message; absent when every step completed. */
  failed?: { step: PassStepName; message: string };
}

const REASON: Record<PassStepName, string> = { dispatch: 'DispatchFailed', gate: 'GateFailed', publish: 'PublishFailed', record: 'RecordFailed' };

export function nextCondition(current: ConditionRecord | undefined, outcome: PassOutcome, now: Date): ConditionRecord {
  const next: Omit<ConditionRecord, 'since'> = outcome.failed
    ? { type: 'Ready', status: 'False', reason: REASON[outcome.failed.step], message: outcome.failed.message.slice(0, 2000), step: outcome.failed.step }
    : { type: 'Ready', status: 'True', reason: 'Reconciled', message: 'every planned step completed' };
  const same = current && current.status === next.status && current.reason === next.reason;
  return { ...next, since: same ? current.since : now.toISOString() };
}
