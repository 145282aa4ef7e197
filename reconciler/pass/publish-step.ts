// Publish: for each distribution the plan touches, compute its complete next
// content (published − pruned + new), fetch the .debs, publish the signed apt
// repository, and return the release records to commit.
import type { Logger } from 'pino';
import { isKilnError, PublishError } from '../../schema/errors.ts';
import type { Artifact, ReleasedPackage, ReleaseRecord } from '../../schema/status.ts';
import type { Action, DesiredDistribution, ObservedState, Plan, PruneAction, PublishAction } from '../model.ts';
import { fetchArtifact } from '../pipeline/collect.ts';
import { publishApt, releaseDueForRefresh, resignRepository } from '../publish/index.ts';
import type { Signer } from '../signing/signer.ts';
import type { PipelineNats } from './deps.ts';

export interface PublishContext {
  reposDir: string;
  artifactsDir: string;
  nats?: PipelineNats;
  signer: Signer;
  now: Date;
  log: Logger;
}

type ReleaseAction = PublishAction | PruneAction;
const isRelease = (a: Action): a is ReleaseAction => a.kind === 'publish' || a.kind === 'prune';

/** Pure: the distribution's package list after applying its publish and prune actions. */
export function nextContent(current: ReleasedPackage[], actions: ReleaseAction[], observed: ObservedState, now: Date): ReleasedPackage[] {
  const drop = new Set(actions.map((a) => `${a.package}\0${a.version}`));
  const kept = current.filter((p) => !drop.has(`${p.name}\0${p.version}`));
  const added = actions
    .filter((a): a is PublishAction => a.kind === 'publish')
    .map((a) => ({
      name: a.package,
      version: a.version,
      builds: a.builds,
      artifacts: Object.values(a.builds).flatMap((key) => observed.builds.get(key)?.artifacts ?? []),
      publishedAt: now.toISOString(),
    }));
  return [...kept, ...added].sort((a, b) => a.name.localeCompare(b.name) || a.version.localeCompare(b.version));
}

async function localDebs(pkg: ReleasedPackage, ctx: PublishContext) {
  const debs = (pkg.artifacts ?? []).filter((a: Artifact) => a.name.endsWith('.deb'));
  if (debs.length === 0) throw new PublishError(`${pkg.name} ${pkg.version} has no .deb among its recorded artifacts`);
  if (!ctx.nats) throw new PublishError('publishing needs the object store (no NATS connection)');
  const nats = ctx.nats;
  return Promise.all(debs.map(async (a) => ({ ...a, path: await fetchArtifact(nats.objectStore, a.sha256, ctx.artifactsDir) })));
}

async function publishOne(dist: DesiredDistribution, content: ReleasedPackage[], desiredCommit: string, ctx: PublishContext): Promise<ReleaseRecord> {
  if (dist.signingKey && dist.signingKey !== ctx.signer.fingerprint) {
    throw new PublishError(
      `${dist.file}: signingKey ${dist.signingKey} is not the reconciler's key ${ctx.signer.fingerprint}; fix the distribution or start the reconciler with that key`,
    );
  }
  const packages = [];
  for (const pkg of content) {
    const files = await localDebs(pkg, ctx);
    for (const arch of Object.keys(pkg.builds)) {
      const archFiles = files.filter((f) => f.name.endsWith(`_${arch}.deb`) || f.name.endsWith('_all.deb'));
      packages.push({ name: pkg.name, version: pkg.version, arch, files: archFiles.length ? archFiles : files });
    }
  }
  // Hard links: the artifact cache is content-addressed and never rewritten in place (the publisher falls back to copies across filesystems).
  const report = await publishApt({ root: ctx.reposDir, distribution: dist, packages, signer: ctx.signer, now: ctx.now, log: ctx.log, inputs: 'link' });
  return {
    distribution: dist.name,
    desiredCommit,
    publishedAt: ctx.now.toISOString(),
    signingKey: ctx.signer.fingerprint,
    releaseSha256: report.releaseSha256,
    packages: content,
  };
}

export async function publishReleases(
  plan: Plan,
  distributions: Map<string, DesiredDistribution>,
  observed: ObservedState,
  ctx: PublishContext,
): Promise<ReleaseRecord[]> {
  const byDist = new Map<string, ReleaseAction[]>();
  for (const a of plan.actions.filter(isRelease)) byDist.set(a.distribution, [...(byDist.get(a.distribution) ?? []), a]);
  const records: ReleaseRecord[] = [];
  for (const [name, actions] of byDist) {
    const content = nextContent(observed.releases.get(name)?.packages ?? [], actions, observed, ctx.now);
    const dist = distributions.get(name);
    if (!dist) {
      // A removed distribution: its repository stays as it was; the record says it publishes nothing more.
      ctx.log.warn({ distribution: name }, 'distribution removed from the desired state; its published repository is left in place');
      records.push({ distribution: name, desiredCommit: plan.desiredCommit, publishedAt: ctx.now.toISOString(), packages: content });
      continue;
    }
    const started = Date.now();
    try {
      records.push(await publishOne(dist, content, plan.desiredCommit, ctx));
      ctx.log.info({ distribution: name, packages: content.length, ms: Date.now() - started }, `published ${name}`);
    } catch (e) {
      // One distribution that cannot be published (a wrong signingKey, a lost artifact) must not
      // keep the rest of the pass from being recorded: it is reported, and planned again next pass.
      if (!isKilnError(e)) throw e;
      ctx.log.error({ distribution: name, err: e.message, code: e.code }, `cannot publish ${name}: ${e.message}`);
    }
  }
  return records;
}

/**
 * Re-sign the Release of every published distribution whose Valid-Until is
 * more than half used up, so clients never see an expired repository between
 * content changes. Returns the distributions re-signed.
 */
export async function refreshExpiring(distributions: Map<string, DesiredDistribution>, skip: Set<string>, ctx: PublishContext): Promise<string[]> {
  const done: string[] = [];
  for (const dist of distributions.values()) {
    if (skip.has(dist.name) || !dist.validForDays) continue;
    if (!(await releaseDueForRefresh(ctx.reposDir, dist, ctx.now))) continue;
    await resignRepository(ctx.reposDir, dist.name, ctx.signer, ctx.now);
    ctx.log.info({ distribution: dist.name }, `re-signed ${dist.name}: Valid-Until refreshed`);
    done.push(dist.name);
  }
  return done;
}
