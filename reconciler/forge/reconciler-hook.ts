// Where a reconciler process meets its forge: the forge service is opened with
// the reconciler, and after every pass (failed ones too) the outbox sends what
// the pass recorded.
import { join } from 'node:path';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { ForgeConfig } from '../../schema/metadata.ts';
import { METADATA_LAYOUT } from '../../schema/metadata.ts';
import { parseFile } from '../desired/parse-file.ts';
import { specCheckerFor, uncheckedWhenUnreachable } from '../desired/spec-check.ts';
import { listFiles, readBlob, type GitCache } from '../git/tree.ts';
import type { ObservedState } from '../model.ts';
import { gitdirOf } from '../status/git-objects.ts';
import { readObserved } from '../status/reader.ts';
import { kilnCheck, type CheckRunner, type HeadFetcher } from './check-verdict.ts';
import { ForgeService } from './service.ts';

export interface ForgeSettings {
  /** The forge API token (--forge-token-file / KILN_FORGE_TOKEN); without it statuses are recorded and wait. */
  token?: string;
  /** The verdict behind kiln/check (default: `kiln check` of the head against the tracked branch). */
  runCheck?: CheckRunner;
  /** With a URL repo: brings a pull request's head into the mirror before the default check reads it. */
  fetchHead?: HeadFetcher;
  retry?: { baseMs: number; capMs: number };
}

/** kiln.yaml `forge:` of the last reconciled commit, for a process whose first head is refused (its files are never read). */
/** What the forge needs of a reconciler's pass dependencies (forge/ stays below pass/: no import of it). */
export interface ForgeHost {
  repoDir: string;
  cache: GitCache;
  log: Logger;
  random: () => number;
  now: () => Date;
  /** With an engine, a pull request's rpm packages are held against their specs, as `kiln check` does. */
  docker?: Docker;
}

/** What the forge reads of the pass memo: the last desired config and the last status read. */
export interface ForgeMemo {
  desired?: { state: { config: { forge?: ForgeConfig } } };
  observed?: { state: Pick<ObservedState, 'forge'> };
}

async function lastReconciledForge(deps: ForgeHost): Promise<ForgeConfig | undefined> {
  try {
    const { state } = await readObserved({ dir: deps.repoDir, cache: deps.cache });
    if (!state.desiredCommit) return undefined;
    const [config] = await listFiles(deps.repoDir, state.desiredCommit, deps.cache, { prefixes: [METADATA_LAYOUT.config] });
    if (!config) return undefined;
    const parsed = parseFile(config.path, 'config', await readBlob(deps.repoDir, config.oid, deps.cache));
    return parsed.kind === 'config' ? parsed.doc?.forge : undefined;
  } catch {
    return undefined;
  }
}

export async function openForge(s: ForgeSettings, deps: ForgeHost, memo: ForgeMemo): Promise<ForgeService> {
  const fallback = await lastReconciledForge(deps);
  return ForgeService.open({
    stateDir: join(await gitdirOf(deps.repoDir), 'kiln', 'forge'),
    token: s.token,
    config: () => memo.desired?.state.config.forge ?? fallback,
    reconcileRecords: () => memo.observed?.state.forge.values() ?? [],
    runCheck: s.runCheck ?? kilnCheck(deps.repoDir, deps.log, s.fetchHead, deps.docker ? uncheckedWhenUnreachable(specCheckerFor(deps.docker)) : undefined),
    retry: s.retry,
    log: deps.log,
    random: deps.random,
    now: deps.now,
  });
}

export async function passWithForge<R extends { published: string[]; gates: number }>(forge: ForgeService, pass: () => Promise<R>): Promise<R> {
  try {
    const report = await pass();
    // Publishing or gating changed what the plan will say: one more pass turns the commit's status final now, not at the next interval.
    if (report.published.length > 0 || report.gates > 0) forge.followUp?.('forge: confirm the outcome');
    return report;
  } finally {
    forge.kick();
  }
}
