// One reconcile pass (DESIGN.md): observe actual → judge trust → observe
// desired → collect results → plan → dispatch → gate → publish → record ONE
// signed status commit → ack the collected results. Each step is its own
// module; this file only sequences them. A pass with nothing new returns at once.
import type { Logger } from 'pino';
import { InvalidMetadataError } from '../schema/errors.ts';
import { STATUS_REF } from '../schema/status.ts';
import { readDesired, type DesiredSnapshot } from './desired/read-desired.ts';
import { specCheckerFor } from './desired/spec-check.ts';
import { resolveCommit } from './git/tree.ts';
import type { DesiredState, ObservedState, Plan } from './model.ts';
import { dispatchBuilds } from './pipeline/dispatch.ts';
import { aptSourceFor } from './pipeline/apt-source.ts';
import { earliestWake } from './plan/next-wake.ts';
import { emptyPlanMemo, invalidPlan, plan as makePlan, refusalPlan, type PlanMemo } from './plan/plan.ts';
import { gitdirOf } from './status/git-objects.ts';
import { readObserved } from './status/reader.ts';
import { withBuilds } from './status/build-changes.ts';
import { readRef } from './status/ref-cas.ts';
import type { ObservedSnapshot } from './status/snapshot.ts';
import { recordPass } from './status/writer.ts';
import { assertStatusSigned, checkRecordFor, invalidCheckRecord, verifyDesiredCommit, type TrustVerdict } from './trust/index.ts';
import { collectResults, type Collected } from './pass/collect-step.ts';
import { ackAll } from './pipeline/collect.ts';
import type { PassDeps, PassStep } from './pass/deps.ts';
import { emptyEvents, type PassEvents } from './pass/events.ts';
import { runGates } from './pass/gate-step.ts';
import { publishReleases, refreshExpiring } from './pass/publish-step.ts';
import { checkReleaseKey } from './pass/release-key.ts';
import { attemptStep, PassStepFailure } from './pass/step-failure.ts';
import { withTopology } from './nats/repair.ts';
import { emptyPublishedMemo, observePublished, publishedUnchanged, rememberPublished, type PublishedMemo } from './pass/observe-published.ts';
import { statusChangeFor, updatedBuilds, type StatusChangeContext } from './pass/status-change.ts';
import { outcomeOf, prepareForgeFiles, withForgeFiles, type ForgeFiles } from './forge/pass-step.ts';
import { observeImageTags, type ImageTagsMemo } from './pass/observe-image-tags.ts';
import { nextUnjudged, unjudgedList, type Unjudged, type UnjudgedMemo } from './pass/unjudged.ts';

/** What a pass remembers for the next one (incremental reads, the quiet fast path). */
export interface PassMemo {
  desired?: DesiredSnapshot;
  observed?: ObservedSnapshot;
  /** Set when a pass planned nothing: `${desired}:${status}`, when, and when a wait in its plan ends. */
  quiet?: { key: string; at: number; wakeAt?: number };
  /** When source refs were last resolved again (a moved source branch is a new build). */
  sourcesAt?: number;
  /** The desired commit whose declared release key was last checked against ours. */
  releaseKeyChecked?: string;
  /** The last kiln/status head known to be ours (signed by our key, or written by us). */
  statusVerified?: string;
  /** What the published repositories looked like (drift checks). */
  published?: PublishedMemo;
  /** Per-package plan fragments from the last plan (incremental planning). */
  plan?: PlanMemo;
  /** Digests of base images named by tag, and when they were read. */
  imageTags?: ImageTagsMemo;
  /** Results handed back unjudged and not judged since (pass/unjudged.ts): the Ready condition says so. */
  unjudged?: UnjudgedMemo;
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
  /** Results this pass handed back unjudged: the reconciler could not read their images back (its registry credentials refused, or the registry down). */
  unjudged: Unjudged[];
  ms: number;
  /** Epoch ms at which a wait of the plan ends by itself: the next pass is due then. */
  wakeAt?: number;
}

/** Per-pass values every step needs. */
interface PassContext {
  deps: PassDeps;
  memo: PassMemo;
  log: Logger;
  now: Date;
  desiredCommit: string;
}

async function step(deps: PassDeps, name: PassStep): Promise<void> {
  await deps.onStep?.(name);
}

const noCollect = (): Collected => ({ pending: [], results: [], signatures: new Map(), signed: new Map(), unjudged: [] });

/** True when nobody else moved the status branch since our last read. */
async function statusUnchanged(deps: PassDeps, memo: PassMemo): Promise<boolean> {
  const head = await readRef(await gitdirOf(deps.repoDir), STATUS_REF);
  return head === (memo.observed?.commit ?? null);
}

/** Nothing new in git or NATS, and not long since a full pass: nothing to do. */
async function isQuiet(c: PassContext, collected: Collected): Promise<boolean> {
  const q = c.memo.quiet;
  const key = `${c.desiredCommit}:${c.memo.observed?.commit ?? null}`;
  if (!q || q.key !== key || c.now.getTime() - q.at >= c.deps.policy.quietMaxMs || collected.pending.length > 0) return false;
  if (q.wakeAt !== undefined && c.now.getTime() >= q.wakeAt) return false;
  // A repository touched behind our back (deleted, rewritten) is not quiet: a full pass looks at it.
  if (c.memo.published && !(await publishedUnchanged(c.memo.published))) return false;
  return statusUnchanged(c.deps, c.memo);
}

/** Believe kiln/status only when its head is signed by our own key (a pushed forgery could name any commit as trusted). */
async function verifyStatusHead(c: PassContext, head: string | undefined): Promise<void> {
  if (!head || head === c.memo.statusVerified) return;
  await assertStatusSigned({ dir: c.deps.repoDir, cache: c.deps.cache, commit: head, publicKeyArmored: c.deps.signer.publicKeyArmored });
  c.memo.statusVerified = head;
}

/**
 * Always judged, and before any file of the commit is parsed: whether signatures
 * are required is read at each commit's parent by the policy, so a commit can
 * neither switch the requirement off for itself nor feed the reader untrusted input.
 */
function judgeTrust(c: PassContext, observed: ObservedState): Promise<TrustVerdict> {
  return verifyDesiredCommit({ dir: c.deps.repoDir, cache: c.deps.cache, commit: c.desiredCommit, lastTrusted: observed.desiredCommit });
}

/** The desired state (incremental), with the declared release key checked against ours. */
async function observeDesired(c: PassContext): Promise<DesiredState> {
  const { deps, memo, now } = c;
  const refreshSources = memo.sourcesAt === undefined || now.getTime() - memo.sourcesAt >= deps.policy.sourceRefreshMs;
  // rpm packages are held against their specs (rpm's own tools in a container) when this reconciler has Docker.
  const checkSpec = deps.docker ? specCheckerFor(deps.docker) : undefined;
  const read = await readDesired({ dir: deps.repoDir, rev: c.desiredCommit, cache: deps.cache, previous: memo.desired, refreshSources, log: c.log, ...(checkSpec ? { checkSpec } : {}) });
  if (refreshSources) memo.sourcesAt = now.getTime();
  memo.desired = read.snapshot;
  const releaseKey = read.state.config.signing.publicKey;
  if (releaseKey && memo.releaseKeyChecked !== c.desiredCommit) {
    await checkReleaseKey({ dir: deps.repoDir, commit: c.desiredCommit, cache: deps.cache, path: releaseKey, fingerprint: deps.signer.fingerprint });
    memo.releaseKeyChecked = c.desiredCommit;
  }
  // Registry credentials are not part of the model: they go with each publish, gate and observe request.
  return read.state;
}

/** Drift of the published repositories from their records (see pass/observe-published.ts). */
async function withDrift(c: PassContext, observed: ObservedState, desired: DesiredState | undefined): Promise<ObservedState> {
  if (!desired || !c.deps.reposDir) return observed;
  const drift = await observePublished(c.deps.reposDir, desired.distributions, observed.releases, (c.memo.published ??= emptyPublishedMemo()), c.deps.registryAuth);
  return drift.size ? { ...observed, drift } : observed;
}

/** The digests of base images named by tag (`from: HOST/REPO:TAG`), as their registries serve them now. */
async function withImageTags(c: PassContext, observed: ObservedState, desired: DesiredState | undefined): Promise<ObservedState> {
  if (!desired) return observed;
  c.memo.imageTags = await observeImageTags(desired, { client: c.deps.registry, memo: c.memo.imageTags, now: c.now, refreshMs: c.deps.policy.sourceRefreshMs, log: c.log });
  return c.memo.imageTags ? { ...observed, imageTags: c.memo.imageTags.tags } : observed;
}

/** The observed state the plan should see: what the branch says plus the results just collected. */
function withResults(observed: ObservedState, events: PassEvents, ctx: StatusChangeContext): ObservedState {
  const { updated } = updatedBuilds(observed, { desiredCommit: events.desiredCommit, results: events.results, dispatched: [], signed: events.signed }, ctx);
  return updated.size ? { ...observed, builds: withBuilds(observed.builds, updated) } : observed;
}

/**
 * Dispatch, gate and publish what the plan asks for; their outcomes go into `events` and
 * `report` as each step completes, so a later step's failure keeps what the earlier ones did.
 * The lease is checked before each step: a reconciler that lost it stops acting at once.
 */
async function act(c: PassContext, plan: Plan, desired: DesiredState, observed: ObservedState, events: PassEvents, report: PassReport): Promise<void> {
  const { deps, log, now } = c;
  await attemptStep('dispatch', async () => {
    const builds = plan.actions.filter((a) => a.kind === 'build');
    if (deps.nats && builds.length) {
      deps.lease?.assertHeld();
      // Recorded as each job is queued: should a later publish fail, the ones already queued are still recorded.
      const queued: typeof builds = [];
      events.dispatched = queued;
      const onQueued = (a: (typeof builds)[number]) => void (queued.includes(a) || queued.push(a));
      // A jobs stream found gone is made again and the dispatch tried once more (message ids keep it idempotent).
      const nats = deps.nats;
      const repoUrl = desired.config.repoUrl ?? deps.repoUrl;
      const aptSource = (name: string) => aptSourceFor(desired.distributions.get(name), repoUrl, deps.signer.publicKeyArmored);
      if (!repoUrl && builds.some((b) => b.buildFrom)) log.warn('packages build from a distribution of this repo, but no repoUrl is set in kiln.yaml: their jobs install Build-Depends from the base archive only');
      const d = await withTopology(nats, log, 'dispatch', () => dispatchBuilds(nats.js, builds, { desiredCommit: c.desiredCommit, now, log, onQueued, aptSource }));
      report.dispatched = d.published;
      report.duplicates = d.duplicates;
    }
    await step(deps, 'dispatched');
  });

  await attemptStep('gate', async () => {
    if (deps.docker && deps.reposDir && plan.actions.some((a) => a.kind === 'gate')) {
      deps.lease?.assertHeld();
      const gateCtx = { docker: deps.docker, image: deps.gateImage, reposDir: deps.reposDir, timeoutSeconds: deps.policy.gateTimeoutSeconds, log, registryAuth: deps.registryAuth };
      await runGates(plan, desired.distributions, gateCtx, events.gates);
      report.gates = events.gates.length;
    }
    await step(deps, 'gated');
  });

  await attemptStep('publish', async () => {
    if (deps.reposDir) {
      deps.lease?.assertHeld();
      const reposUrl = desired.config.repoUrl ?? deps.repoUrl;
      const publishCtx = { reposDir: deps.reposDir, artifactsDir: deps.artifactsDir, nats: deps.nats, signer: deps.signer, now, log, packages: desired.packages, registryAuth: deps.registryAuth, ...(reposUrl ? { reposUrl } : {}) };
      if (plan.actions.some((a) => a.kind === 'publish' || a.kind === 'prune' || a.kind === 'republish')) {
        await publishReleases(plan, desired.distributions, observed, publishCtx, events.releases);
        report.published = events.releases.map((r) => r.distribution);
      }
      await refreshExpiring(desired.distributions, new Set(report.published), publishCtx);
    }
    await step(deps, 'published');
  });
}

/** Act, and turn a failing step into the pass's outcome (recorded) instead of losing what was observed. */
async function actAndReport(c: PassContext, plan: Plan, desired: DesiredState, observed: ObservedState, events: PassEvents, report: PassReport): Promise<PassStepFailure | undefined> {
  try {
    await act(c, plan, desired, observed, events, report);
    events.outcome = { unjudged: unjudgedList(c.memo.unjudged ?? new Map()) };
    return undefined;
  } catch (e) {
    if (!(e instanceof PassStepFailure)) throw e;
    // A lost lease means another reconciler acts now: record nothing, give the results back.
    if ((e.cause as { code?: string } | null)?.code === 'KILN_LEASE_LOST') throw e.cause;
    c.log.error({ step: e.step, err: e.message }, `pass failed at ${e.step}; recording what it observed and did`);
    events.outcome = { failed: { step: e.step, message: e.message } };
    return e;
  }
}

/** ONE signed status commit with everything this pass observed and did; then, and only then, ack. */
async function record(c: PassContext, events: PassEvents, ctx: StatusChangeContext, collected: Collected, report: PassReport, forgeFiles?: ForgeFiles): Promise<void> {
  const { deps, memo } = c;
  deps.lease?.assertHeld();
  const write = (previous: ObservedSnapshot | undefined) =>
    recordPass({
      dir: deps.repoDir,
      cache: deps.cache,
      signer: deps.signer,
      now: c.now,
      previous,
      log: c.log,
      build: (current) => withForgeFiles(statusChangeFor(current, events, ctx), forgeFiles?.(current), c.desiredCommit, events.trusted),
      verifyHead: (head) => assertStatusSigned({ dir: deps.repoDir, cache: deps.cache, commit: head, publicKeyArmored: deps.signer.publicKeyArmored }),
    });
  let recorded = await write(memo.observed);
  // ── Remote metadata repo (reconciler/remote/remote-step.ts): push kiln/status before anything is acked;
  //    if another writer moved it, this pass's events are written again on top of its head. ──
  if (deps.remote) recorded = await deps.remote.afterRecord(recorded, () => write(recorded.snapshot));
  memo.observed = recorded.snapshot;
  memo.statusVerified = recorded.snapshot.commit;
  report.statusCommit = recorded.commit;
  await step(deps, 'recorded');
  // Every outcome is durable in git now: the acks go out together (one confirmation for all: ackAll).
  await ackAll(collected.pending);
  deps.metrics?.recorded(events); // metrics: builds by outcome, once durable
  await step(deps, 'acked');
}

export async function reconcilePass(deps: PassDeps, memo: PassMemo): Promise<PassReport> {
  const started = Date.now();
  // ── Remote metadata repo (reconciler/remote/remote-step.ts): fetch the tracked branch and kiln/status first. ──
  await deps.remote?.beforePass();
  const c: PassContext = { deps, memo, log: deps.log.child({ component: 'pass' }), now: deps.now(), desiredCommit: await resolveCommit(deps.repoDir, deps.rev, deps.cache) };
  const collected = deps.nats
    ? await collectResults(deps.nats, { max: deps.policy.maxResults, waitMs: deps.policy.resultWaitMs, drainMs: deps.policy.drainMs, signer: deps.signer, artifactsDir: deps.artifactsDir, log: c.log, registry: deps.registry, candidateRegistry: deps.candidateRegistry, declared: memo.desired?.state.packages })
    : noCollect();
  const report: PassReport = { noop: true, desiredCommit: c.desiredCommit, statusCommit: null, dispatched: 0, duplicates: 0, results: 0, gates: 0, published: [], unjudged: collected.unjudged, ms: 0 };
  if (collected.unjudged.length) deps.metrics?.handedBack(collected.unjudged);
  // What is remembered as unjudged changed: the Ready condition must be recorded, so not quiet.
  const unjudged = nextUnjudged(memo.unjudged ?? new Map(), collected.unjudged, collected.results.map((r) => r.key), c.now.getTime());
  memo.unjudged = unjudged.memo;
  if (unjudged.changed) memo.quiet = undefined; // until a pass records it (this one may fail)
  if (!unjudged.changed && (await isQuiet(c, collected))) return { ...report, wakeAt: memo.quiet?.wakeAt, ms: Date.now() - started };

  const observedRead = await readObserved({ dir: deps.repoDir, cache: deps.cache, previous: memo.observed, log: c.log });
  memo.observed = observedRead.snapshot;
  try {
    await verifyStatusHead(c, observedRead.snapshot.commit);
  } catch (e) {
    for (const p of collected.pending) p.nak(5_000);
    throw e;
  }
  const trust = await judgeTrust(c, observedRead.state);
  let desired: DesiredState | undefined;
  let invalid: InvalidMetadataError | undefined;
  try {
    if (trust.trusted) desired = await observeDesired(c);
  } catch (e) {
    // Invalid metadata is recorded (checks/<commit>.yaml, verdict invalid) with the results, then
    // rethrown; anything else (the wrong release key, a git error) records nothing: results go back.
    if (e instanceof InvalidMetadataError) invalid = e;
    else {
      for (const p of collected.pending) p.nak(5_000);
      throw e;
    }
  }
  await step(deps, 'observed');

  const maxAttempts = desired?.config.defaults.maxAttempts ?? memo.desired?.state.config.defaults.maxAttempts ?? 3;
  const ctx: StatusChangeContext = { policy: { maxAttempts, ...deps.policy.retry }, now: c.now, random: deps.random };
  const events: PassEvents = { ...emptyEvents(c.desiredCommit), trusted: trust.trusted && !invalid, results: collected.results, signatures: collected.signatures, signed: collected.signed };
  const observed = await withImageTags(c, await withDrift(c, withResults(observedRead.state, events, ctx), desired), desired);
  await step(deps, 'collected');

  const plan = desired
    ? makePlan(desired, observed, { now: c.now, queueGraceMs: deps.policy.queueGraceMs, trust }, (memo.plan ??= emptyPlanMemo()))
    : invalid
      ? invalidPlan(c.desiredCommit, invalid.message.split('\n')[0].replace(/:$/, ''))
      : refusalPlan(c.desiredCommit, observed, trust.reason);
  Object.assign(report, { noop: false, plan, trust, results: collected.results.length });
  await step(deps, 'planned');

  let failure: PassStepFailure | undefined;
  try {
    if (desired) failure = await actAndReport(c, plan, desired, observed, events, report);
    else if (invalid) {
      if (observed.checks.get(c.desiredCommit)?.verdict !== 'invalid') events.checks.push(invalidCheckRecord(c.desiredCommit, invalid.diagnostics, c.now));
    } else if (plan.actions.some((a) => a.kind === 'refuse')) events.checks.push(checkRecordFor(trust, c.now));
    // ── forge (reconciler/forge): the kiln/reconcile statuses of this commit ride in the same status commit ──
    const forgeFiles = deps.forgeStatuses ? await prepareForgeFiles({ dir: deps.repoDir, cache: deps.cache, head: c.desiredCommit, observed: observedRead.state, outcome: outcomeOf(plan, trust, invalid), now: c.now }) : undefined;
    await record(c, events, ctx, collected, report, forgeFiles);
  } catch (e) {
    // Nothing of this pass is in git: hand the results back now rather than at the ack timeout.
    for (const p of collected.pending) p.nak(5_000);
    c.log.error({ step: 'record', err: (e as Error).message }, 'pass could not record; results handed back for a later pass');
    throw e;
  }
  if (desired && deps.reposDir) await rememberPublished(deps.reposDir, desired.distributions, (memo.published ??= emptyPublishedMemo()));
  report.wakeAt = earliestWake(plan);
  memo.quiet = plan.actions.length === 0 && collected.pending.length === 0 && !failure && !invalid ? { key: `${c.desiredCommit}:${memo.observed?.commit ?? null}`, at: c.now.getTime(), wakeAt: report.wakeAt } : undefined;
  report.ms = Date.now() - started;
  // Recorded (and acked); the watch loop retries by the cause's kind.
  if (failure) throw failure.cause;
  if (invalid) throw invalid;
  return report;
}
