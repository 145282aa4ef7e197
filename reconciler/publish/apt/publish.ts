// publishApt: make ROOT/<dist> a signed apt repository holding exactly the
// given packages. Incremental (only new .debs are read, only changed indexes
// written, Release re-signed only when something changed) and atomic for
// readers (see switch-plan.ts for the order and why).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isKilnError, PublishInputError } from '../../../schema/errors.ts';
import type { AptDistribution } from '../../model.ts';
import type { Signer } from '../../signing/signer.ts';
import { ingestPoolFile, type IngestMode, type InputFile } from './pool-file.ts';
import { forgetDirsUnder, writeFileAtomic } from './atomic-write.ts';
import { signRelease } from './inrelease.ts';
import { sha256Hex } from './hashes.ts';
import { buildIndexes } from './indexes.ts';
import { planFiles, type PlanPackage, type PlannedFile } from './plan-files.ts';
import { BY_HASH, components, indexArchitectures, keyFileName, POOL_DIR, suiteDir } from './layout.ts';
import { identity, type PoolEntry } from './packages-index.ts';
import { pruneRepository } from './prune.ts';
import { sourceEntries, sourcePoolFile } from './source-entries.ts';
import { releaseText } from './release-file.ts';
import { emptyState, loadState, saveState, type RepoState } from './state.ts';
import { planSwitch, type SwitchInput } from './switch-plan.ts';
import { serialized } from './serialize.ts';
import { withRepoLock } from './repo-lock.ts';

/** One .deb or source package file to publish: a local file and the digest it must have. */
export type PublishFile = InputFile;
/** One package (source name, version, build arch), its .debs and source package files; `component` defaults to the first. */
export type PublishPackage = PlanPackage;

export interface PublishInput {
  /** REPOS root: the repository goes to ROOT/<distribution.name>. */
  root: string;
  distribution: AptDistribution;
  /** The COMPLETE content of the suite after this publish. */
  packages: PublishPackage[];
  signer: Signer;
  now: Date;
  log?: Logger;
  /** How input files enter the pool: 'copy' (default) or 'link' (hard link; see pool-file.ts for the trade-off). */
  inputs?: IngestMode;
  /** How long unreferenced pool files and by-hash indexes stay for clients mid-update (default 600 s). */
  retainSeconds?: number;
  /** Ignore what the publisher remembers (.kiln/state.json): every file is read, checked and written again (a repository found damaged). */
  fresh?: boolean;
}

export interface PublishReport {
  distribution: string;
  suite: string;
  /** sha256 of the Release file now published (recorded on the status branch). */
  releaseSha256: string;
  signedBy: string;
  /** False when the repository already held exactly this content: nothing was written. */
  changed: boolean;
  resigned: boolean;
  /** Pool paths (relative to ROOT/<dist>) written by this publish. */
  filesAdded: string[];
  /** Pool paths and by-hash indexes deleted (after their grace period). */
  filesRemoved: string[];
  /** Paths newly unreferenced, to be removed after the grace period. */
  filesRetired: string[];
  /** Index files rewritten, relative to dists/<suite>. */
  indexesWritten: string[];
  packages: number;
  /** Source packages (.dsc) in the suite. */
  sources: number;
  durationsMs: { read: number; index: number; sign: number; switch: number; prune: number; total: number };
}

/** Longest stretch of synchronous pool I/O before other work (NATS, HTTP) gets a turn. */
const YIELD_EVERY_MS = 5;
const exists = (p: string) => stat(p).then(() => true, () => false);

/** poolEntry, its errors naming the package and version the file belongs to (so a caller can leave that package out). */
async function attributedPoolEntry(repoDir: string, f: PlannedFile, state: RepoState, arches: string[], added: string[], mode: IngestMode): Promise<PoolEntry> {
  try {
    return await poolEntry(repoDir, f, state, arches, added, mode);
  } catch (e) {
    if (isKilnError(e)) Object.assign(e.data, { package: f.source, version: f.version });
    throw e;
  }
}

/** Bring one .deb into the pool (if new) and return its index entry. */
async function poolEntry(repoDir: string, f: PlannedFile, state: RepoState, arches: string[], added: string[], mode: IngestMode): Promise<PoolEntry> {
  const target = join(repoDir, f.poolRel);
  const known = state.pool[f.poolRel];
  if (known !== undefined && known !== f.file.sha256) {
    throw new PublishInputError(
      `${f.poolRel} is already published with other bytes (sha256 ${known.slice(0, 12)}…, now ${f.file.sha256.slice(0, 12)}…); a published file never changes: bump the version`,
      { file: f.poolRel },
    );
  }
  let stored = state.files[f.file.sha256];
  // Known files are trusted to be in the pool: prune forgets a file in state before deleting it.
  if (!(known === f.file.sha256 && stored?.package !== undefined)) {
    const got = await ingestPoolFile(f.file, target, f.poolRel, mode);
    if (got.added) added.push(f.poolRel);
    const { control, digests: d } = got;
    const id = identity(control);
    stored = { control, size: d.size, md5: d.md5, package: id.package, version: id.version, arch: id.arch, source: id.source ?? id.package };
    state.files[d.sha256] = stored;
    state.pool[f.poolRel] = d.sha256;
  }
  // A package publishes only its own binaries at its own version: never what a .deb says it replaces.
  if (stored.version !== f.binaryVersion || (stored.source !== undefined && stored.source !== f.source)) {
    throw new PublishInputError(`${f.file.name} is a binary of ${stored.source ?? '?'} ${stored.version}, not of ${f.source} ${f.binaryVersion}: not published`, { file: f.file.name, field: 'Version' });
  }
  if (stored.arch !== 'all' && !arches.includes(stored.arch)) {
    throw new PublishInputError(`${f.file.name}: Architecture '${stored.arch}' is not one the distribution publishes (${arches.join(', ')})`, { file: f.file.name, field: 'Architecture' });
  }
  return { control: stored.control, filename: f.poolRel, size: stored.size, sha256: f.file.sha256, md5: stored.md5, component: f.component, package: stored.package, version: stored.version, arch: stored.arch };
}

/**
 * A binary package name comes from one source in a suite: another source's .deb of
 * that name would replace it for every apt client (its debian/control may declare
 * any name). The one newly added loses (its package and version are named, so the
 * caller can leave it out); `entries` are `planned`'s, in order.
 */
function assertOneSourcePerBinary(planned: PlannedFile[], entries: PoolEntry[], added: Set<string>): void {
  const owner = new Map<string, PlannedFile>();
  for (const [i, f] of planned.entries()) {
    const name = entries[i].package;
    const seen = owner.get(name);
    if (!seen) owner.set(name, f);
    else if (seen.source !== f.source) {
      const [culprit, other] = added.has(f.poolRel) || !added.has(seen.poolRel) ? [f, seen] : [seen, f];
      throw new PublishInputError(`${culprit.file.name}: binary package ${name} already comes from ${other.source} ${other.version} in this suite; ${culprit.source} cannot publish it`, {
        package: culprit.source,
        version: culprit.version,
        file: culprit.file.name,
        field: 'Package',
      });
    }
  }
}

/** fn over items in order, yielding to the event loop every few ms (fn does short synchronous I/O). */
async function eachYielding<T, R>(items: T[], fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  let slice = performance.now();
  for (const item of items) {
    out.push(await fn(item));
    if (performance.now() - slice > YIELD_EVERY_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      slice = performance.now();
    }
  }
  return out;
}

/** Re-sign when the content or key changed, the signed files are missing, or half the validity has passed. */
async function needsSigning(repoDir: string, suite: string, state: RepoState, contentKey: string, validForDays: number | undefined, now: Date): Promise<boolean> {
  const r = state.release;
  if (!r || r.contentKey !== contentKey) return true;
  for (const f of ['Release', 'Release.gpg', 'InRelease']) if (!(await exists(join(repoDir, suiteDir(suite), f)))) return true;
  if (validForDays && now.getTime() - Date.parse(r.date) > (validForDays * 86_400_000) / 2) return true;
  return false;
}

/**
 * Whether the published Release is due for re-signing although nothing changed: half of
 * `validForDays` has passed. A reconcile pass can call this cheaply and publish the same
 * content again when it says yes.
 */
export async function releaseDueForRefresh(root: string, distribution: AptDistribution, now: Date): Promise<boolean> {
  const state = await loadState(join(root, distribution.name));
  if (!state.release) return false; // never published: nothing to refresh
  return Boolean(distribution.validForDays) && now.getTime() - Date.parse(state.release.date) > (distribution.validForDays! * 86_400_000) / 2;
}

export async function publishApt(input: PublishInput): Promise<PublishReport> {
  const repoDir = join(input.root, input.distribution.name);
  if (input.fresh) forgetDirsUnder(repoDir);
  return serialized(repoDir, () => withRepoLock(repoDir, (tookOver) => publishLocked(repoDir, input, tookOver)));
}

async function publishLocked(repoDir: string, input: PublishInput, afterCrash: boolean): Promise<PublishReport> {
  const t0 = performance.now();
  const { distribution: dist, signer, now } = input;
  const log = input.log?.child({ component: 'publish-apt', distribution: dist.name });
  const planned = planFiles(input);
  const comps = components(dist);
  const arches = indexArchitectures(dist);
  const state = input.fresh ? emptyState() : await loadState(repoDir);

  // A repository with no pool yet has no leftovers for prune to look for.
  const poolWasEmpty = !(await exists(join(repoDir, POOL_DIR)));
  const added: string[] = [];
  const debs = planned.filter((f) => f.kind === 'deb');
  const entries = await eachYielding(debs, (f) => attributedPoolEntry(repoDir, f, state, arches, added, input.inputs ?? 'copy'));
  assertOneSourcePerBinary(debs, entries, new Set(added));
  await eachYielding(planned.filter((f) => f.kind === 'source'), (f) => sourcePoolFile(repoDir, f, state, added, input.inputs ?? 'copy'));
  const sources = sourceEntries(planned, state);
  const t1 = performance.now();

  const indexes = await buildIndexes(repoDir, dist.suite, comps, arches, entries, sources, state);
  const t2 = performance.now();

  const releaseInput = { dist, architectures: arches, components: comps, indexes: indexes.digests };
  const contentKey = sha256Hex(releaseText({ ...releaseInput, date: new Date(0) }) + signer.fingerprint);
  const resign = indexes.changed.length > 0 || (await needsSigning(repoDir, dist.suite, state, contentKey, dist.validForDays, now));
  let release: SwitchInput['release'];
  let releaseSha256 = state.release?.sha256 ?? '';
  if (resign) {
    const text = releaseText({ ...releaseInput, date: now });
    const { inRelease, releaseGpg } = await signRelease(signer, text);
    release = { dir: suiteDir(dist.suite), release: text, releaseGpg, inRelease };
    releaseSha256 = sha256Hex(text);
  }
  const keyPath = keyFileName(dist.name);
  const currentKey = await readFile(join(repoDir, keyPath), 'utf8').catch(() => undefined);
  const key = currentKey === signer.publicKeyArmored ? undefined : { path: keyPath, data: signer.publicKeyArmored };
  const t3 = performance.now();

  for (const step of planSwitch({ indexes: indexes.changed, key, release })) {
    if (step.op === 'write') await writeFileAtomic(join(repoDir, step.path), step.data);
    else if (step.op === 'save-state') {
      for (const d of indexes.digests) state.indexes[d.path] = { sha256: d.sha256, md5: d.md5, size: d.size };
      if (release) state.release = { sha256: releaseSha256, contentKey, date: now.toISOString(), signer: signer.fingerprint };
      await saveState(repoDir, state);
    }
  }
  const t4 = performance.now();

  const referenced = new Set<string>(planned.map((f) => f.poolRel));
  for (const d of indexes.digests) referenced.add(`${suiteDir(dist.suite)}/${d.path.slice(0, d.path.lastIndexOf('/'))}/${BY_HASH}/${d.sha256}`);
  const pruned = await pruneRepository({ repoDir, state, referenced, now, retainMs: (input.retainSeconds ?? 600) * 1000, forceScan: afterCrash || Boolean(input.fresh), skipScan: poolWasEmpty && !afterCrash && !input.fresh, saveState: () => saveState(repoDir, state) });
  if (pruned.removed.length || pruned.retired.length || pruned.scannedPool) await saveState(repoDir, state);
  const t5 = performance.now();

  const report: PublishReport = {
    distribution: dist.name,
    suite: dist.suite,
    releaseSha256,
    signedBy: signer.fingerprint,
    changed: added.length > 0 || indexes.changed.length > 0 || resign || key !== undefined,
    resigned: resign,
    filesAdded: added.sort(),
    filesRemoved: pruned.removed.sort(),
    filesRetired: pruned.retired.sort(),
    indexesWritten: indexes.changed.map((c) => c.path.slice(suiteDir(dist.suite).length + 1)),
    packages: entries.length,
    sources: sources.length,
    durationsMs: { read: t1 - t0, index: t2 - t1, sign: t3 - t2, switch: t4 - t3, prune: t5 - t4, total: t5 - t0 },
  };
  log?.info(
    { added: report.filesAdded.length, removed: report.filesRemoved.length, indexes: report.indexesWritten.length, resigned: resign, ms: Math.round(report.durationsMs.total) },
    report.changed ? `published ${dist.name}/${dist.suite}` : `${dist.name}/${dist.suite} already up to date`,
  );
  return report;
}
