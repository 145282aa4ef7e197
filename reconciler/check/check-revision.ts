// kiln check: what merging REV into BASE would do. Gathers the facts — trust of
// every commit REV adds on top of the merge base (each signed by a key trusted
// as of its parent), validation of REV's files, and plan(BASE) vs plan(REV)
// against the same observed state — and hands them to the pure diff.
import fs from 'node:fs';
import git from 'isomorphic-git';
import type { Logger } from 'pino';
import type { Diagnostic } from '../../schema/errors.ts';
import { evaluateDesired, type DesiredSnapshot } from '../desired/read-desired.ts';
import type { SpecChecker } from '../desired/spec-check.ts';
import { repoArgs, resolveCommit, type GitCache } from '../git/tree.ts';
import type { ObservedState, Plan } from '../model.ts';
import { plan, refusalPlan } from '../plan/plan.ts';
import { verifyDesiredCommit, type TrustVerdict } from '../trust/index.ts';
import { diffPlans, type PlanDiff } from './plan-diff.ts';

export interface CheckInput {
  dir: string;
  cache: GitCache;
  rev: string;
  base: string;
  observed: ObservedState;
  now: Date;
  /** The base's desired state read earlier (a reconciler's memo): only the files REV changes are read. */
  baseSnapshot?: DesiredSnapshot;
  /** Kept between checks by a long-running caller: the base's plan is computed once per (base, kiln/status). */
  memo?: CheckMemo;
  /** Holds REV's rpm packages against their specs (rpm in a container); the base's are not re-checked. */
  checkSpec?: SpecChecker;
  log?: Logger;
}

export interface CheckMemo {
  basePlan?: { key: string; plan: Plan; snapshot?: DesiredSnapshot; problems: Diagnostic[] };
}

export interface CheckReport {
  ok: boolean;
  rev: string;
  base: string;
  mergeBase: string | null;
  trust: TrustVerdict;
  /** Null when REV was refused: an untrusted commit's files are never parsed. */
  validation: { ok: boolean; packages: number; distributions: number; diagnostics: Diagnostic[] } | null;
  /** Problems of the base itself (its plan is then taken as empty). */
  baseProblems: Diagnostic[];
  diff: PlanDiff;
}

const EMPTY: Omit<Plan, 'desiredCommit'> = { actions: [], waiting: [] };

async function mergeBaseOf(dir: string, a: string, b: string, cache: GitCache): Promise<string | null> {
  const [base] = (await git.findMergeBase({ fs, ...repoArgs(dir), oids: [a, b], cache })) as string[];
  return base ?? null;
}

/** Every commit REV adds on top of the merge base must be signed by a key trusted at its parent. */
async function judgePr(input: CheckInput, rev: string, mergeBase: string | null): Promise<TrustVerdict> {
  if (!mergeBase) return { trusted: false, commit: rev, reason: `${rev.slice(0, 12)} shares no history with the base` };
  if (mergeBase === rev) return { trusted: true, commit: rev, reason: `${rev.slice(0, 12)} is already part of the base: nothing to merge` };
  return verifyDesiredCommit({ dir: input.dir, cache: input.cache, commit: rev, lastTrusted: mergeBase });
}

/** plan(base) against the observed state, from the memo when neither moved. */
async function planBase(input: CheckInput, base: string): Promise<NonNullable<CheckMemo['basePlan']>> {
  const key = `${base}:${input.observed.statusCommit ?? ''}`;
  if (input.memo?.basePlan?.key === key) return input.memo.basePlan;
  const ev = await evaluateDesired({ dir: input.dir, rev: base, cache: input.cache, previous: input.baseSnapshot, log: input.log });
  const basePlan = {
    key,
    plan: ev.state ? plan(ev.state, input.observed, { now: input.now }) : { desiredCommit: base, ...EMPTY },
    snapshot: ev.snapshot,
    problems: ev.state ? [] : ev.diagnostics.filter((d) => d.severity === 'error'),
  };
  if (input.memo) input.memo.basePlan = basePlan;
  return basePlan;
}

export async function checkRevision(input: CheckInput): Promise<CheckReport> {
  const { dir, cache, observed, now, log } = input;
  const [rev, base] = await Promise.all([resolveCommit(dir, input.rev, cache), resolveCommit(dir, input.base, cache)]);
  const mergeBase = await mergeBaseOf(dir, base, rev, cache);
  const trust = await judgePr(input, rev, mergeBase);

  const { plan: basePlan, snapshot: baseSnapshot, problems: baseProblems } = await planBase(input, base);
  if (!trust.trusted) {
    // Shown whether or not the reconciler already recorded this refusal; what the base still plans is beside the point.
    const refusal = refusalPlan(rev, { ...observed, checks: new Map() }, trust.reason);
    const diff = { added: refusal.actions, dropped: [], waiting: refusal.waiting };
    return { ok: false, rev, base, mergeBase, trust, validation: null, baseProblems: [], diff };
  }
  const revEval = await evaluateDesired({ dir, rev, cache, previous: baseSnapshot, log, ...(input.checkSpec ? { checkSpec: input.checkSpec } : {}) });
  const revPlan = revEval.state ? plan(revEval.state, observed, { now }) : { desiredCommit: rev, ...EMPTY };
  const validation = {
    ok: revEval.state !== undefined,
    packages: revEval.state?.packages.size ?? 0,
    distributions: revEval.state?.distributions.size ?? 0,
    diagnostics: revEval.diagnostics,
  };
  // An invalid revision would plan nothing: show what it breaks, not what it "drops".
  const diff = revEval.state ? diffPlans(basePlan, revPlan) : { added: [], dropped: [], waiting: [] };
  return { ok: validation.ok, rev, base, mergeBase, trust, validation, baseProblems, diff };
}
