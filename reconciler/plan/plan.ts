// plan(desired, observed): the heart of Kiln. A pure function from the two
// states to the actions that converge them, each with its reason. A second
// plan after the actions' outcomes are recorded plans nothing.
import { REASONS, WAIT_REASONS } from '../../schema/conditions.ts';
import type { Action, DesiredState, ObservedState, Plan } from '../model.ts';
import { planBuilds } from './plan-builds.ts';
import { planReleases } from './plan-releases.ts';
import { patchPlan, type PlanMemo } from './plan-patch.ts';

export { emptyPlanMemo, type PlanMemo } from './plan-patch.ts';

export interface TrustVerdictInput {
  trusted: boolean;
  reason: string;
}

export interface PlanOptions {
  now: Date;
  /** Extra time a queued build may go without a result (on top of its time limit) before it is dispatched again. */
  queueGraceMs?: number;
  /** The trust verdict of desired.commit; absent means trusted (e.g. trust checks disabled). */
  trust?: TrustVerdictInput;
}

export const DEFAULT_QUEUE_GRACE_MS = 6 * 3600_000;

const KIND_ORDER: Record<Action['kind'], number> = { refuse: 0, build: 1, gate: 2, publish: 3, prune: 4, republish: 5 };

const actionLabel = (a: Action) =>
  a.kind === 'build' ? `${a.package}/${a.arch}` : a.kind === 'refuse' ? a.commit : a.kind === 'republish' ? a.distribution : `${a.distribution}/${a.package}/${a.version}`;

/** What String#localeCompare with no arguments compares by, made once (it is the same collation). */
const collator = new Intl.Collator();

/**
 * Actions by kind, then label in the default collation (`localeCompare`'s). Each label is made
 * once, not twice per comparison: sorting a cold plan's 10,000 builds made ≈ 270,000 label
 * strings (a tenth of its allocations). Array#sort is stable, so the order is the one the
 * comparison of made-on-demand labels gave (test/unit/plan.test.ts compares the two).
 */
export function sortActions(actions: Action[]): Action[] {
  const keyed = actions.map((a) => ({ a, kind: KIND_ORDER[a.kind], label: actionLabel(a) }));
  keyed.sort((x, y) => x.kind - y.kind || collator.compare(x.label, y.label));
  for (let i = 0; i < keyed.length; i++) actions[i] = keyed[i].a;
  return actions;
}

/** The specification of sortActions: labels made for every comparison, compared by localeCompare. */
export function sortActionsSlow(actions: Action[]): Action[] {
  return actions.sort((a, b) => KIND_ORDER[a.kind] - KIND_ORDER[b.kind] || actionLabel(a).localeCompare(actionLabel(b)));
}

/** The plan for a desired commit the trust policy refused: record the refusal once, act on nothing. */
export function refusalPlan(commit: string, observed: ObservedState, reason: string): Plan {
  const recorded = observed.checks.get(commit)?.verdict === 'refused';
  return {
    desiredCommit: commit,
    actions: recorded ? [] : [{ kind: 'refuse', reason: REASONS.refuseUntrusted, commit, message: `desired commit ${commit.slice(0, 12)} is not trusted: ${reason}` }],
    waiting: [{ subject: `commit ${commit.slice(0, 12)}`, reason: WAIT_REASONS.refused, message: `nothing is built or published: ${reason}` }],
  };
}

/** A trusted commit whose metadata is invalid: nothing to act on until a new commit fixes it. */
export function invalidPlan(commit: string, reason: string): Plan {
  return { desiredCommit: commit, actions: [], waiting: [{ subject: `commit ${commit.slice(0, 12)}`, reason: WAIT_REASONS.invalid, message: `nothing is built or published: ${reason}` }] };
}

/**
 * The specification: a pure function of the two states. With `memo`, the last plan's per-package
 * parts are patched for what changed since (plan-patch.ts); the result is the same (see
 * test/unit/plan-incremental.test.ts).
 */
export function plan(desired: DesiredState, observed: ObservedState, opts: PlanOptions, memo?: PlanMemo): Plan {
  if (opts.trust && !opts.trust.trusted) return refusalPlan(desired.commit, observed, opts.trust.reason);
  const buildOpts = { now: opts.now, queueGraceMs: opts.queueGraceMs ?? DEFAULT_QUEUE_GRACE_MS };
  if (memo) {
    const { actions, waiting } = patchPlan(desired, observed, buildOpts, memo);
    return { desiredCommit: desired.commit, actions: sortActions(actions), waiting };
  }
  const builds = planBuilds(desired, observed, buildOpts);
  const releases = planReleases(desired, observed, builds.builds);
  return {
    desiredCommit: desired.commit,
    actions: sortActions([...builds.actions, ...releases.actions]),
    waiting: [...builds.waiting, ...releases.waiting],
  };
}
