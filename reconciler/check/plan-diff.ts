// What merging a revision would change: the actions of plan(rev) that
// plan(base) does not have (added), and those only plan(base) has (dropped:
// work the base still wants that the revision no longer does). Pure.
import type { Action, Plan, Waiting } from '../model.ts';

export interface PlanDiff {
  added: Action[];
  dropped: Action[];
  /** Reasons something in the revision would wait (not in the base's plan). */
  waiting: Waiting[];
}

/** Same work, whatever desired commit asked for it. */
export function actionId(a: Action): string {
  switch (a.kind) {
    case 'build':
      return `build:${a.key}`;
    case 'refuse':
      return 'refuse';
    case 'gate':
      return `gate:${a.distribution}/${a.package}/${a.version}:${a.from}`;
    case 'republish':
      return `republish:${a.distribution}`;
    default:
      return `${a.kind}:${a.distribution}/${a.package}/${a.version}`;
  }
}

const waitingId = (w: Waiting) => `${w.subject}\n${w.reason}`;

export function diffPlans(base: Plan, rev: Plan): PlanDiff {
  const inBase = new Set(base.actions.map(actionId));
  const inRev = new Set(rev.actions.map(actionId));
  const baseWaiting = new Set(base.waiting.map(waitingId));
  return {
    added: rev.actions.filter((a) => !inBase.has(actionId(a))),
    dropped: base.actions.filter((a) => !inRev.has(actionId(a))),
    waiting: rev.waiting.filter((w) => !baseWaiting.has(waitingId(w))),
  };
}
