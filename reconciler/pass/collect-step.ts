// Collect: take the build results that arrived and, one task per result, verify
// every artifact's digest against the object store (one read of each), judge
// whether the success is publishable and sign the artifacts (and each rpm's
// header: pipeline/signed-rpms.ts), from the same verified bytes. Nothing is
// acked here: the pass acks after its status commit.
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import type { BuildResult } from '../../schema/messages.ts';
import { asFailedResult, fetchArtifact, fetchResults, type PendingResult } from '../pipeline/collect.ts';
import type { ArtifactContext } from '../formats/format.ts';
import type { DesiredPackage } from '../model.ts';
import { checkPublishable, needsDeclared } from '../pipeline/publishable.ts';
import { isUnjudged, withVerifiedImage } from '../pipeline/oci-result.ts';
import { signRpmHeaders, type HeaderSigned } from '../pipeline/signed-rpms.ts';
import { verifyKeepingBytes } from '../pipeline/verified-bytes.ts';
import { RegistryClient } from '../../oci/registry-client.ts';
import type { Signer } from '../signing/signer.ts';
import { signArtifacts, type ArtifactToSign } from '../trust/index.ts';
import type { PipelineNats } from './deps.ts';
import { isMissingTopology, withTopology } from '../nats/repair.ts';
import pMap from 'p-map';
import { isKilnError } from '../../schema/errors.ts';
import { backoff } from '../../schema/retry.ts';
import type { Unjudged } from './unjudged.ts';

export interface Collected {
  pending: PendingResult[];
  results: BuildResult[];
  signatures: Map<string, Array<[string, string]>>;
  /** build key -> its rpms header-signed now (format rpm). */
  signed: Map<string, HeaderSigned[]>;
  /** Results handed back unjudged: the reconciler's own registry access failed (pass/unjudged.ts). */
  unjudged: Unjudged[];
}

export interface CollectOptions {
  max: number;
  waitMs: number;
  signer: Signer;
  artifactsDir: string;
  log: Logger;
  registry?: RegistryClient;
  /** HOST[:PORT] of the candidate registry: where an oci result's image must be. */
  candidateRegistry?: string;
  /** Keep taking results that arrive meanwhile for up to this long (default 0: one round). */
  drainMs?: number;
  /** While draining, the burst has ended once no result arrived for this long (default DRAIN_IDLE_MS). */
  drainIdleMs?: number;
  /** The packages of the desired state read last; absent before the first read (results whose guard needs them wait for it). */
  declared?: ReadonlyMap<string, Pick<DesiredPackage, 'format'> & Partial<Pick<DesiredPackage, 'release'>>>;
}

/**
 * Sign a verified success's artifacts: from the bytes verification read, else (a big artifact,
 * image.json) from the local cache; signArtifacts hashes what it signs either way.
 */
async function signVerified(nats: PipelineNats, result: BuildResult, bytes: Map<string, Buffer>, signer: Signer, artifactsDir: string): Promise<Array<[string, string]>> {
  const files: ArtifactToSign[] = await Promise.all(
    result.artifacts.map(async (a): Promise<ArtifactToSign> => {
      const b = bytes.get(a.sha256);
      return b ? { sha256: a.sha256, bytes: b } : { sha256: a.sha256, path: await fetchArtifact(nats.objectStore, a.sha256, artifactsDir, { jsm: nats.jsm }) };
    }),
  );
  return [...(await signArtifacts(signer, files))];
}

/**
 * Pure: may a distribution publish this result's artifacts? Then they go into the local cache
 * as they are verified. Before the desired state is read, or for a package whose release list
 * is not known, yes; for a package no distribution takes (or no longer declared), no.
 */
export function willPublish(result: BuildResult, declared: CollectOptions['declared']): boolean {
  if (!declared) return true;
  const pkg = declared.get(result.inputs.package);
  return pkg !== undefined && (pkg.release === undefined || pkg.release.length > 0);
}

/** One result: verified, judged publishable (an oci image read back from its registry), and signed if it stays a success. */
async function judgeAndSign(nats: PipelineNats, claimed: BuildResult, opts: CollectOptions, registry: RegistryClient): Promise<{ result: BuildResult; signatures: Array<[string, string]>; signed: HeaderSigned[] }> {
  const cache = willPublish(claimed, opts.declared);
  const { result: intact, bytes, stored, release } = await verifyKeepingBytes(nats.objectStore, claimed, { cacheDir: opts.artifactsDir, jsm: nats.jsm, cache });
  try {
    // What the bytes say they are: a success is recorded only if it can be published as declared.
    const read = async (a: BuildResult['artifacts'][number]) => bytes.get(a.sha256) ?? (await readCached(nats, a.sha256, opts.artifactsDir));
    const context: ArtifactContext = { declared: opts.declared ?? new Map(), rpmHeaders: new Map() };
    const result = await withVerifiedImage(await checkPublishable(intact, opts.artifactsDir, read, context), { client: registry, objectStore: nats.objectStore, cacheDir: opts.artifactsDir, candidate: opts.candidateRegistry });
    const signatures = result.outcome === 'succeeded' ? await signVerified(nats, result, bytes, opts.signer, opts.artifactsDir) : [];
    const signed = await signRpmHeaders(result, read, opts.signer, opts.artifactsDir, context.rpmHeaders);
    // The publisher finds the artifacts in the local cache (written meanwhile).
    await stored;
    return { result, signatures, signed };
  } finally {
    await stored.catch(() => undefined);
    release();
  }
}

async function readCached(nats: PipelineNats, sha256: string, artifactsDir: string): Promise<Buffer> {
  return readFile(await fetchArtifact(nats.objectStore, sha256, artifactsDir, { jsm: nats.jsm }));
}

type Judged = Awaited<ReturnType<typeof judgeAndSign>>;

/** How a result that could not be judged for now is handed back: after 1 s, doubling per delivery up to a minute. */
export const HAND_BACK = { baseMs: 1000, capMs: 60_000 } as const;

/**
 * Pure: how soon a result handed back after its `deliveries`-th delivery comes again. One policy
 * for every reason a result is not judged now (its image unreadable in the candidate registry, a
 * transient error): the delay grows while the condition lasts, whatever it is.
 */
export function handBackDelay(deliveries: number, random: () => number = Math.random): number {
  return backoff(deliveries, { ...HAND_BACK, random });
}

/**
 * One result judged, its error made explicit: the result's own error that will not change on retry
 * (a malformed package: kind terminal) records it as failed with that reason; the environment's
 * (kind usage: the key cannot sign) fails the batch as before (but not the candidate registry's
 * refusal of an image read: isUnjudged, handed back), as it would every result; any other
 * error hands this result back with backoff (undefined) while the rest of the batch is recorded.
 */
async function judgeOne(nats: PipelineNats, p: PendingResult, opts: CollectOptions, registry: RegistryClient, unjudged: Unjudged[]): Promise<Judged | undefined> {
  try {
    return await judgeAndSign(nats, p.result, opts, registry);
  } catch (e) {
    // The candidate registry down or refusing our own credentials says nothing about this build
    // (oci-result.ts): not recorded, no attempt used; logged and reported (the pass's Ready condition), naming registry and file.
    if (isUnjudged(e)) {
      const delayMs = handBackDelay(p.deliveries);
      opts.log.error({ buildKey: p.result.key, kind: e.kind, deliveries: p.deliveries, delayMs, err: e.message }, `build result not judged (handed back): the candidate registry's image could not be read: ${e.message}`);
      unjudged.push({ buildKey: p.result.key, reason: `the candidate registry's image could not be read: ${e.message}` });
      p.nak(delayMs);
      return undefined;
    }
    // A missing stream or bucket is the batch's problem: withTopology repairs it and judges all again.
    if (isMissingTopology(e) || (isKilnError(e) && e.kind === 'usage')) throw e;
    const err = e as Error;
    if (isKilnError(e) && e.kind === 'terminal') {
      opts.log.warn({ buildKey: p.result.key, code: e.code, err: err.message }, 'a build result cannot be signed; recording it as failed');
      return { result: asFailedResult(p.result, 'build', 'signing failed', [`${e.code}: ${err.message}`]), signatures: [], signed: [] };
    }
    const delayMs = handBackDelay(p.deliveries);
    opts.log.warn({ buildKey: p.result.key, deliveries: p.deliveries, delayMs, err: err.message }, 'judging a build result failed; handed back for another try');
    p.nak(delayMs);
    return undefined;
  }
}

/** How soon a result that waits for the desired state is delivered again. */
const DECLARED_WAIT_MS = 1000;

/** Results verified, judged and signed this many at a time (mostly waiting on NATS and the signing worker). */
const COLLECT_CONCURRENCY = 64;

/** One round: results fetched (`onlyNew`: never delivered before), each verified, judged and signed; those handed back are left out. */
async function collectRound(nats: PipelineNats, opts: CollectOptions, registry: RegistryClient, max: number, onlyNew: boolean): Promise<{ fetched: number; full: boolean; judged: Array<{ p: PendingResult } & Judged>; unjudged: Unjudged[] }> {
  let full = false;
  const fetched = await withTopology(nats, opts.log, 'collect', () => fetchResults(nats.js, { max, expiresMs: Math.max(1000, opts.waitMs), log: opts.log, onlyNew, onNoRoom: () => (full = true) }));
  // An rpm's names are judged against the declared packages: before the first desired read, its result is handed back.
  const pending = fetched.filter((p) => {
    if (opts.declared || !needsDeclared(p.result)) return true;
    p.nak(DECLARED_WAIT_MS);
    return false;
  });
  let unjudged: Unjudged[] = [];
  const outcomes = await withTopology(nats, opts.log, 'verify', () => {
    unjudged = []; // judged all again after a topology repair
    return pMap(pending, (p) => judgeOne(nats, p, opts, registry, unjudged), { concurrency: COLLECT_CONCURRENCY });
  });
  // Only what was judged is recorded (and acked after the commit); a result handed back is not.
  return { fetched: fetched.length, full, judged: pending.flatMap((p, i) => (outcomes[i] ? [{ p, ...outcomes[i] }] : [])), unjudged };
}

/** A burst has ended when no result arrived for this long. */
const DRAIN_IDLE_MS = 250;
/** How often a draining pass looks for results that arrived meanwhile. */
const DRAIN_POLL_MS = 25;

/**
 * Collect up to `max` results. With `drainMs`, a burst is drained: once results were there, more
 * rounds take those that arrived during the last one, until none arrived for DRAIN_IDLE_MS or
 * `drainMs` has passed, so that the burst becomes one status commit instead of one per pass.
 * A pass that found no result at all does not wait.
 */
export async function collectResults(nats: PipelineNats, opts: CollectOptions): Promise<Collected> {
  const registry = opts.registry ?? new RegistryClient({ tlsVerify: true });
  const started = Date.now();
  const judged: Array<{ p: PendingResult } & Judged> = [];
  const unjudged: Unjudged[] = [];
  let idleSince: number | undefined;
  for (let taken = 0, round = 0; taken < opts.max; round++) {
    const r = await collectRound(nats, opts, registry, opts.max - taken, round > 0).catch((e: unknown) => {
      // This pass records nothing now: what earlier rounds took comes back soon, not after the ack wait.
      for (const j of judged) j.p.nak(handBackDelay(j.p.deliveries));
      throw e;
    });
    judged.push(...r.judged);
    unjudged.push(...r.unjudged);
    taken += r.fetched;
    const now = Date.now();
    // No more handed out until this pass acks (max_ack_pending): nothing to wait for.
    if (taken === 0 || r.full || now - started >= (opts.drainMs ?? 0)) break;
    if (r.fetched > 0) idleSince = undefined;
    else if (now - (idleSince ??= now) >= (opts.drainIdleMs ?? DRAIN_IDLE_MS)) break;
    else await sleep(DRAIN_POLL_MS);
  }
  const collected: Collected = { pending: judged.map((j) => j.p), results: [], signatures: new Map(), signed: new Map(), unjudged };
  for (const { p, result, signatures, signed } of judged) {
    if (result.outcome === 'failed' && p.result.outcome === 'succeeded') {
      opts.log.warn({ buildKey: result.key, reason: result.reason }, 'a successful build failed verification; recording it as failed');
    }
    collected.results.push(result);
    // Merged per key: two successful results for one key may arrive together; the record keeps one.
    if (signatures.length) collected.signatures.set(result.key, [...(collected.signatures.get(result.key) ?? []), ...signatures]);
    if (signed.length) collected.signed.set(result.key, [...(collected.signed.get(result.key) ?? []), ...signed]);
  }
  if (judged.length) opts.log.info({ results: judged.length }, `collected ${judged.length} build result(s)`);
  return collected;
}
