// Publish: for each distribution the plan touches, compute its complete next
// content (published − pruned + new), fetch the releasable artifacts (chosen by
// each package's format module), apply it through the distribution's release
// target (apt: a signed apt repository), and return the release records to commit.
import type { RegistryAuth } from '../../oci/registry-auth.ts';
import type { Logger } from 'pino';
import { isKilnError, PublishError, PublishInputError, type KilnError } from '../../schema/errors.ts';
import type { Artifact, BuildRecord, RejectedPackage, ReleasedPackage, ReleaseRecord } from '../../schema/status.ts';
import type { Action, DesiredDistribution, DesiredPackage, ObservedState, Plan, PruneAction, PublishAction, RepublishAction } from '../model.ts';
import { binaryVersion } from '../../schema/binnmu.ts';
import { cachedArtifactPath } from '../pipeline/artifact-cache.ts';
import { fetchArtifact } from '../pipeline/collect.ts';
import { formatNamed, type PackageFormat } from '../formats/index.ts';
import { releaseTarget, type ReleaseTarget, type ReleaseUnit } from '../release-targets/index.ts';
import type { SignedArtifact } from '../release-targets/target.ts';
import type { Signer } from '../signing/signer.ts';
import type { PipelineNats } from './deps.ts';
import { releasedTags } from '../records/release-tags.ts';
import canonicalize from 'canonicalize';

export interface PublishContext {
  reposDir: string;
  artifactsDir: string;
  nats?: PipelineNats;
  signer: Signer;
  now: Date;
  log: Logger;
  /** The desired packages: what a release target takes from a package beyond its artifacts (registry: tag templates). */
  packages?: ReadonlyMap<string, DesiredPackage>;
  /** Where the repositories are served over HTTP (kiln.yaml `repoUrl`, or this service's /repos), if they are. */
  reposUrl?: string;
  /** The reconciler's registry credentials (registry targets). */
  registryAuth?: RegistryAuth;
}

type ReleaseAction = PublishAction | PruneAction | RepublishAction;
type ContentAction = PublishAction | PruneAction;
const isRelease = (a: Action): a is ReleaseAction => a.kind === 'publish' || a.kind === 'prune' || a.kind === 'republish';
const isContent = (a: ReleaseAction): a is ContentAction => a.kind !== 'republish';

/** Pure: the distribution's package list after applying its publish and prune actions. */
export function nextContent(current: ReleasedPackage[], actions: ContentAction[], observed: ObservedState, now: Date): ReleasedPackage[] {
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

/** Pure: rejections still worth recording (of builds not published now), one per name and version, the newest. */
export function keptRejections(previous: RejectedPackage[], added: RejectedPackage[], content: ReleasedPackage[]): RejectedPackage[] {
  const builds = (p: { name: string; version: string; builds: Record<string, string> }) => `${p.name}\0${p.version}\0${canonicalize(p.builds)}`;
  const published = new Set(content.map(builds));
  const byVersion = new Map<string, RejectedPackage>();
  for (const r of [...previous, ...added]) if (!published.has(builds(r))) byVersion.set(`${r.name}\0${r.version}`, r);
  return [...byVersion.values()];
}

/** The format a released package was built in: its build records say (else the target's first format). */
function formatOfRelease(pkg: ReleasedPackage, target: ReleaseTarget, observed: ObservedState): PackageFormat {
  const recorded = Object.values(pkg.builds)
    .map((key) => observed.builds.get(key)?.inputs.recipe.format)
    .find((f) => f !== undefined);
  const name = recorded ?? target.packageFormats[0];
  const format = name === undefined ? undefined : formatNamed(name);
  if (!format || !target.packageFormats.includes(format.name)) {
    throw new PublishInputError(`${pkg.name} ${pkg.version} is a ${name ?? 'unknown'} package; a ${target.name} distribution releases ${target.packageFormats.join(', ')} packages`);
  }
  return format;
}

async function localArtifacts(pkg: ReleasedPackage, format: PackageFormat, ctx: PublishContext) {
  const releasable = (pkg.artifacts ?? []).filter((a: Artifact) => format.isReleasable(a.name));
  if (releasable.length === 0) throw new PublishInputError(`${pkg.name} ${pkg.version} has no .${format.name} among its recorded artifacts`);
  if (!ctx.nats) throw new PublishError('publishing needs the object store (no NATS connection)');
  const nats = ctx.nats;
  return Promise.all(releasable.map(async (a) => ({ ...a, path: await fetchArtifact(nats.objectStore, a.sha256, ctx.artifactsDir) })));
}

/** Each file with the copy its build signed at collect (rpm headers), where the build record names one: the dnf publisher serves it when the key is its own. */
function withHeaderSigned<F extends { sha256: string }>(files: F[], signed: BuildRecord['signed'], artifactsDir: string): F[] {
  if (!signed?.length) return files;
  const byBuilt = new Map(signed.map((s) => [s.built, s]));
  return files.map((f) => {
    const s = byBuilt.get(f.sha256);
    if (!s) return f;
    return { ...f, headerSigned: { path: cachedArtifactPath(artifactsDir, s.sha256), sha256: s.sha256, size: s.size, signingKey: s.signingKey, ...(s.signature ? { signature: s.signature } : {}), ...(s.rpm ? { rpm: s.rpm } : {}) } };
  });
}

/** The sha256 of the artifacts a build recorded (undefined when its record is not known). */
const ownArtifacts = (build: BuildRecord | undefined) => (build?.artifacts ? new Set(build.artifacts.map((a) => a.sha256)) : undefined);

/** The version a build's binaries carry: a binNMU rebuild's <version>+kilnN (schema/binnmu.ts). */
function binaryVersionOf(pkg: ReleasedPackage, arch: string, observed: ObservedState): { binaryVersion?: string } {
  const inputs = observed.builds.get(pkg.builds[arch])?.inputs;
  return inputs?.binNMU ? { binaryVersion: binaryVersion(inputs) } : {};
}

/** One released package's units (one per built architecture), its errors naming the package and version (so that one package can be left out). */
async function attributedUnits(pkg: ReleasedPackage, target: ReleaseTarget, observed: ObservedState, ctx: PublishContext): Promise<ReleaseUnit[]> {
  try {
    const format = formatOfRelease(pkg, target, observed);
    const files = await localArtifacts(pkg, format, ctx);
    const desired = ctx.packages?.get(pkg.name);
    const tagTemplates = desired?.format === 'oci' ? { tagTemplates: desired.tags } : {};
    return Object.keys(pkg.builds).map((arch) => ({
      name: pkg.name,
      version: pkg.version,
      ...binaryVersionOf(pkg, arch, observed),
      arch,
      files: withHeaderSigned(format.artifactsForArch(files, arch, ownArtifacts(observed.builds.get(pkg.builds[arch]))), observed.builds.get(pkg.builds[arch])?.signed, ctx.artifactsDir),
      build: pkg.builds[arch],
      ...tagTemplates,
    }));
  } catch (e) {
    if (isKilnError(e)) Object.assign(e.data, { package: pkg.name, version: pkg.version });
    throw e;
  }
}

async function publishOne(dist: DesiredDistribution, content: ReleasedPackage[], observed: ObservedState, desiredCommit: string, ctx: PublishContext, fresh: boolean): Promise<ReleaseRecord> {
  if (dist.signingKey && dist.signingKey !== ctx.signer.fingerprint) {
    throw new PublishError(
      `${dist.file}: signingKey ${dist.signingKey} is not the reconciler's key ${ctx.signer.fingerprint}; fix the distribution or start the reconciler with that key`,
    );
  }
  const target = releaseTarget(dist);
  const units: ReleaseUnit[] = [];
  for (const pkg of content) units.push(...(await attributedUnits(pkg, target, observed, ctx)));
  // Hard links: the artifact cache is content-addressed and never rewritten in place (the publisher falls back to copies across filesystems).
  const report = await target.apply({ root: ctx.reposDir, distribution: dist, units, signer: ctx.signer, now: ctx.now, log: ctx.log, inputs: 'link', fresh, ...(ctx.reposUrl ? { reposUrl: ctx.reposUrl } : {}), ...(ctx.registryAuth ? { registryAuth: ctx.registryAuth } : {}) });
  return {
    distribution: dist.name,
    desiredCommit,
    publishedAt: ctx.now.toISOString(),
    signingKey: ctx.signer.fingerprint,
    releaseSha256: report.releaseSha256,
    packages: report.signed ? withSigned(content, report.signed) : content,
    ...(report.tags ? { tags: releasedTags(report.tags, observed.releases.get(dist.name), desiredCommit) } : {}),
    ...(report.indexes?.length ? { indexes: report.indexes } : {}),
  };
}

/** Pure: each package with the files the target signed in place from its artifacts (matched by built sha256). */
export function withSigned(content: ReleasedPackage[], signed: SignedArtifact[]): ReleasedPackage[] {
  return content.map((p) => {
    const mine = new Set((p.artifacts ?? []).map((a) => a.sha256));
    const { signed: _before, ...rest } = p;
    const files = signed.filter((s) => mine.has(s.built)).sort((a, b) => a.name.localeCompare(b.name));
    return files.length ? { ...rest, signed: files } : rest;
  });
}

/** The publish action an error is about: a package this pass adds, named by the error. */
function culprit(e: KilnError, actions: ContentAction[]): PublishAction | undefined {
  return actions.find((a): a is PublishAction => a.kind === 'publish' && a.package === e.data.package && a.version === e.data.version);
}

/**
 * Publish one distribution. A package this pass adds that cannot be published
 * is left out with its prunes (what is published of it stays), and the rest
 * is published: a permanent reason is recorded against the package in the
 * release record (the planner then waits for a rebuild), a transient one
 * (e.g. the object store unreachable) only defers it to a later pass.
 */
async function publishDistribution(dist: DesiredDistribution, actions: ReleaseAction[], observed: ObservedState, desiredCommit: string, ctx: PublishContext): Promise<ReleaseRecord | undefined> {
  const previous = observed.releases.get(dist.name);
  const fresh = actions.some((a) => a.kind === 'republish');
  let active = actions.filter(isContent);
  const rejected: RejectedPackage[] = [];
  for (;;) {
    const content = nextContent(previous?.packages ?? [], active, observed, ctx.now);
    try {
      const record = await publishOne(dist, content, observed, desiredCommit, ctx, fresh);
      const kept = keptRejections(previous?.rejected ?? [], rejected, content);
      return kept.length ? { ...record, rejected: kept } : record;
    } catch (e) {
      const bad = isKilnError(e) ? culprit(e, active) : undefined;
      if (!bad) throw e;
      active = active.filter((a) => a.package !== bad.package);
      const reason = (e as KilnError).message;
      if ((e as KilnError).kind === 'transient') {
        ctx.log.warn({ distribution: dist.name, package: bad.package, version: bad.version, err: reason }, `${bad.package} ${bad.version} left out of ${dist.name} for now: ${reason}`);
      } else {
        ctx.log.error({ distribution: dist.name, package: bad.package, version: bad.version, err: reason }, `${dist.name} cannot publish ${bad.package} ${bad.version}: ${reason}`);
        rejected.push({ name: bad.package, version: bad.version, builds: bad.builds, reason, at: ctx.now.toISOString() });
      }
    }
  }
}

/**
 * Publish each distribution the plan touches. Records are pushed into `records` as each
 * distribution is published, so a later one's unexpected failure keeps the earlier ones for
 * the pass to record (they are on disk already).
 */
export async function publishReleases(
  plan: Plan,
  distributions: Map<string, DesiredDistribution>,
  observed: ObservedState,
  ctx: PublishContext,
  records: ReleaseRecord[] = [],
): Promise<ReleaseRecord[]> {
  const byDist = new Map<string, ReleaseAction[]>();
  for (const a of plan.actions.filter(isRelease)) byDist.set(a.distribution, [...(byDist.get(a.distribution) ?? []), a]);
  for (const [name, actions] of byDist) {
    const dist = distributions.get(name);
    if (!dist) {
      // A removed distribution: its repository stays as it was; the record says it publishes nothing more.
      ctx.log.warn({ distribution: name }, 'distribution removed from the desired state; its published repository is left in place');
      const content = nextContent(observed.releases.get(name)?.packages ?? [], actions.filter(isContent), observed, ctx.now);
      records.push({ distribution: name, desiredCommit: plan.desiredCommit, publishedAt: ctx.now.toISOString(), packages: content });
      continue;
    }
    const started = Date.now();
    try {
      const record = await publishDistribution(dist, actions, observed, plan.desiredCommit, ctx);
      if (record) records.push(record);
      ctx.log.info({ distribution: name, packages: record?.packages.length, ms: Date.now() - started }, `published ${name}`);
    } catch (e) {
      // A distribution that cannot be published as a whole (a wrong signingKey, a lost artifact of
      // a package it already publishes) must not keep the rest of the pass from being recorded:
      // it is reported, and planned again next pass.
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
    if (skip.has(dist.name)) continue;
    const target = releaseTarget(dist);
    if (!(await target.dueForResign(ctx.reposDir, dist, ctx.now))) continue;
    await target.resign(ctx.reposDir, dist.name, ctx.signer, ctx.now);
    ctx.log.info({ distribution: dist.name }, `re-signed ${dist.name}: Valid-Until refreshed`);
    done.push(dist.name);
  }
  return done;
}
