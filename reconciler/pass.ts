// One reconcile pass (DESIGN.md): observe desired → observe actual → collect
// results → plan → dispatch → gate → publish → record ONE signed status
// commit → ack the collected results. Each step is its own module; this file
// only sequences them. A pass with nothing new returns at once.
import { STATUS_REF } from '../schema/status.ts';
import { readDesired, type DesiredSnapshot } from './desired/read-desired.ts';
import { resolveCommit } from './git/tree.ts';
import type { DesiredState, ObservedState, Plan } from './model.ts';
import { dispatchBuilds } from './pipeline/dispatch.ts';
import { plan as makePlan } from './plan/plan.ts';
import { gitdirOf } from './status/git-objects.ts';
import { readObserved } from './status/reader.ts';
import { readRef } from './status/ref-cas.ts';
import type { ObservedSnapshot } from './status/snapshot.ts';
import { recordPass } from './status/writer.ts';
import { checkRecordFor, verifyDesiredCommit, type TrustVerdict } from './trust/index.ts';
import { collectResults, type Collected } from './pass/collect-step.ts';
import type { PassDeps, PassStep } from './pass/deps.ts';
import { emptyEvents, type PassEvents } from './pass/events.ts';
import { runGates } from './pass/gate-step.ts';
import { publishReleases, refreshExpiring } from './pass/publish-step.ts';
import { checkReleaseKey } from './pass/release-key.ts';
import { statusChangeFor, updatedBuilds, type StatusChangeContext } from './pass/status-change.ts';

/** What a pass remembers for the next one (incremental reads, the quiet fast path). */
export interface PassMemo {
  desired?: DesiredSnapshot;
  observed?: ObservedSnapshot;
  /** Set when a pass planned nothing: `${desired}:${status}` and when. */
  quiet?: { key: string; at: number };
  /** When source refs were last resolved again (a moved source branch is a new build). */
  sourcesAt?: number;
  /** The desired commit whose declared release key was last checked against ours. */
  releaseKeyChecked?: string;
}

export interface PassReport {
  noop: boolean;
  desiredCommit: string;
  statusCommit: string | null;
  plan?: Plan;
  trust?: TrustVerdict;
  dispatched: number;
  duplicates: number;
  results: number;
  gates: number;
  published: string[];
  ms: number;
}

async function step(deps: PassDeps, name: PassStep): Promise<void> {
  await deps.onStep?.(name);
}

const noCollect = (): Collected => ({ pending: [], results: [], signatures: new Map() });

/** The observed state the plan should see: what the branch says plus the results just collected. */
function withResults(observed: ObservedState, events: PassEvents, ctx: StatusChangeContext): ObservedState {
  const { updated } = updatedBuilds(observed, { desiredCommit: events.desiredCommit, results: events.results, dispatched: [] }, ctx);
  return updated.size ? { ...observed, builds: new Map([...observed.builds, ...updated]) } : observed;
}

// Always verify: whether signatures are required is read at each commit's
// parent by the policy, so a commit cannot switch the requirement off for itself.
async function verifyTrust(deps: PassDeps, desired: DesiredState, observed: ObservedState): Promise<TrustVerdict> {
  return verifyDesiredCommit({ dir: deps.repoDir, cache: deps.cache, commit: desired.commit, lastTrusted: observed.desiredCommit });
}

export async function reconcilePass(deps: PassDeps, memo: PassMemo): Promise<PassReport> {
  const started = Date.now();
  const now = deps.now();
  const log = deps.log.child({ component: 'pass' });
  const desiredCommit = await resolveCommit(deps.repoDir, deps.rev, deps.cache);
  const statusHead = memo.observed?.commit ?? null;
  const quietKey = `${desiredCommit}:${statusHead}`;

  // The fast path: nothing new in git, no results waiting, and not long since a full pass.
  const collected = deps.nats
    ? await collectResults(deps.nats, { max: deps.policy.maxResults, waitMs: deps.policy.resultWaitMs, signer: deps.signer, artifactsDir: deps.artifactsDir, log })
    : noCollect();
  const quiet = memo.quiet && memo.quiet.key === quietKey && now.getTime() - memo.quiet.at < deps.policy.quietMaxMs;
  if (quiet && collected.pending.length === 0 && (await statusUnchanged(deps, memo))) {
    return { noop: true, desiredCommit, statusCommit: null, dispatched: 0, duplicates: 0, results: 0, gates: 0, published: [], ms: Date.now() - started };
  }

  let desired: DesiredState;
  try {
    const refreshSources = memo.sourcesAt === undefined || now.getTime() - memo.sourcesAt >= deps.policy.sourceRefreshMs;
    const read = await readDesired({ dir: deps.repoDir, rev: desiredCommit, cache: deps.cache, previous: memo.desired, refreshSources, log });
    if (refreshSources) memo.sourcesAt = now.getTime();
    desired = read.state;
    memo.desired = read.snapshot;
    const releaseKey = desired.config.signing.publicKey;
    if (releaseKey && memo.releaseKeyChecked !== desiredCommit) {
      await checkReleaseKey({ dir: deps.repoDir, commit: desiredCommit, cache: deps.cache, path: releaseKey, fingerprint: deps.signer.fingerprint });
      memo.releaseKeyChecked = desiredCommit;
    }
  } catch (e) {
    // Invalid metadata (or the wrong release key) records nothing; the results go back for a later pass.
    for (const p of collected.pending) p.nak(5_000);
    throw e;
  }
  const observedRead = await readObserved({ dir: deps.repoDir, cache: deps.cache, previous: memo.observed, log });
  memo.observed = observedRead.snapshot;
  const trust = await verifyTrust(deps, desired, observedRead.state);
  await step(deps, 'observed');

  const ctx: StatusChangeContext = { policy: { maxAttempts: desired.config.defaults.maxAttempts, ...deps.policy.retry }, now, random: deps.random };
  const events = emptyEvents(desiredCommit);
  events.trusted = trust.trusted;
  events.results = collected.results;
  events.signatures = collected.signatures;
  const observed = withResults(observedRead.state, events, ctx);
  await step(deps, 'collected');

  const plan = makePlan(desired, observed, { now, queueGraceMs: deps.policy.queueGraceMs, trust });
  await step(deps, 'planned');

  const report: PassReport = { noop: false, desiredCommit, statusCommit: null, plan, trust, dispatched: 0, duplicates: 0, results: collected.results.length, gates: 0, published: [], ms: 0 };
  const builds = plan.actions.filter((a) => a.kind === 'build');
  if (deps.nats && builds.length) {
    const d = await dispatchBuilds(deps.nats.js, builds, { desiredCommit, now, log });
    report.dispatched = d.published;
    report.duplicates = d.duplicates;
    events.dispatched = builds;
  }
  await step(deps, 'dispatched');

  if (deps.docker && deps.reposDir && plan.actions.some((a) => a.kind === 'gate')) {
    events.gates = await runGates(plan, desired.distributions, { docker: deps.docker, image: deps.gateImage, reposDir: deps.reposDir, timeoutSeconds: deps.policy.gateTimeoutSeconds, log });
    report.gates = events.gates.length;
  }
  await step(deps, 'gated');

  if (deps.reposDir) {
    const publishCtx = { reposDir: deps.reposDir, artifactsDir: deps.artifactsDir, nats: deps.nats, signer: deps.signer, now, log };
    if (plan.actions.some((a) => a.kind === 'publish' || a.kind === 'prune')) {
      events.releases = await publishReleases(plan, desired.distributions, observed, publishCtx);
      report.published = events.releases.map((r) => r.distribution);
    }
    if (trust.trusted) await refreshExpiring(desired.distributions, new Set(report.published), publishCtx);
  }
  await step(deps, 'published');

  if (!trust.trusted && plan.actions.some((a) => a.kind === 'refuse')) {
    events.checks.push(checkRecordFor(trust, now));
  }

  const recorded = await recordPass({
    dir: deps.repoDir,
    cache: deps.cache,
    signer: deps.signer,
    now,
    previous: memo.observed,
    log,
    build: (current) => statusChangeFor(current, events, ctx),
  });
  memo.observed = recorded.snapshot;
  report.statusCommit = recorded.commit;
  await step(deps, 'recorded');

  // Only now is every collected outcome durable in git: ack.
  for (const p of collected.pending) await p.ack();
  await step(deps, 'acked');

  memo.quiet = plan.actions.length === 0 && collected.pending.length === 0 ? { key: `${desiredCommit}:${memo.observed.commit}`, at: now.getTime() } : undefined;
  report.ms = Date.now() - started;
  return report;
}

/** True when nobody else moved the status branch since our last read. */
async function statusUnchanged(deps: PassDeps, memo: PassMemo): Promise<boolean> {
  const head = await readRef(await gitdirOf(deps.repoDir), STATUS_REF);
  return head === (memo.observed?.commit ?? null);
}
