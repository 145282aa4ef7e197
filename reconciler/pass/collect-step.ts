// Collect: take the build results that arrived, verify every artifact's digest
// in the object store, fetch the verified artifacts into the local cache and
// sign them. Nothing is acked here: the pass acks after its status commit.
import type { Logger } from 'pino';
import type { BuildResult } from '../../schema/messages.ts';
import { fetchArtifact, fetchResults, verifyResults, type PendingResult } from '../pipeline/collect.ts';
import { checkPublishable } from '../pipeline/publishable.ts';
import { withVerifiedImage } from '../pipeline/oci-result.ts';
import { RegistryClient } from '../../oci/registry-client.ts';
import type { Signer } from '../signing/signer.ts';
import { signArtifacts } from '../trust/index.ts';
import type { PipelineNats } from './deps.ts';
import { withTopology } from '../nats/repair.ts';
import pMap from 'p-map';

export interface Collected {
  pending: PendingResult[];
  results: BuildResult[];
  signatures: Map<string, Array<[string, string]>>;
}

/** Fetch each artifact into the local cache and sign it; signArtifacts re-hashes the bytes it signs. */
async function signVerified(nats: PipelineNats, result: BuildResult, signer: Signer, artifactsDir: string): Promise<Array<[string, string]>> {
  const files = await Promise.all(
    result.artifacts.map(async (a) => ({ sha256: a.sha256, path: await fetchArtifact(nats.objectStore, a.sha256, artifactsDir, { jsm: nats.jsm }) })),
  );
  return [...(await signArtifacts(signer, files))];
}

const SIGN_CONCURRENCY = 16;

export async function collectResults(
  nats: PipelineNats,
  opts: { max: number; waitMs: number; signer: Signer; artifactsDir: string; log: Logger; registry?: RegistryClient },
): Promise<Collected> {
  const pending = await withTopology(nats, opts.log, 'collect', () => fetchResults(nats.js, { max: opts.max, expiresMs: Math.max(1000, opts.waitMs), log: opts.log }));
  const collected: Collected = { pending, results: [], signatures: new Map() };
  // Verified concurrently; verification fills the local artifact cache, so signing reads local files.
  const intact = await withTopology(nats, opts.log, 'verify', () =>
    verifyResults(nats.objectStore, pending.map((p) => p.result), { cacheDir: opts.artifactsDir, jsm: nats.jsm, concurrency: 16 }),
  );
  // Then what the bytes say they are: a success is recorded only if it can be published as declared.
  // An oci success names an image: read back from the candidate registry, it becomes the build's image.json.
  const registry = opts.registry ?? new RegistryClient({ tlsVerify: true });
  const verified = await pMap(
    intact,
    async (r) => withVerifiedImage(await checkPublishable(r, opts.artifactsDir), { client: registry, objectStore: nats.objectStore, cacheDir: opts.artifactsDir }),
    { concurrency: SIGN_CONCURRENCY },
  );
  for (const [i, result] of verified.entries()) {
    if (result.outcome === 'failed' && pending[i].result.outcome === 'succeeded') {
      opts.log.warn({ buildKey: result.key, reason: result.reason }, 'a successful build failed verification; recording it as failed');
    }
    collected.results.push(result);
  }
  // Signing runs through WebCrypto off the main thread: a few in flight at once.
  await pMap(
    verified.filter((r) => r.outcome === 'succeeded'),
    // Merged per key: two successful results for one key may arrive together; the record keeps one.
    async (r) => {
      const sigs = await signVerified(nats, r, opts.signer, opts.artifactsDir);
      collected.signatures.set(r.key, [...(collected.signatures.get(r.key) ?? []), ...sigs]);
    },
    { concurrency: SIGN_CONCURRENCY },
  );
  if (pending.length) opts.log.info({ results: pending.length }, `collected ${pending.length} build result(s)`);
  return collected;
}
