// Verifying a result's artifacts with ONE read of each: the bytes come from the
// object store into memory, are hashed and sized there, and the very same bytes
// then serve the publish guard (publishable.ts) and the signer, and are written
// into the local cache for the publisher. Before, each artifact was streamed into
// the cache, stat'ed, read back by the guard and read back again by the signer:
// six file operations per artifact on the pass's critical path.
// Artifacts bigger than IN_MEMORY_MAX (and any object that is not where the
// store says, e.g. one lost with its bucket but still in the cache) take the
// streaming path of collect.ts instead, with the same verdicts.
import { createHash } from 'node:crypto';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import type { BuildResult } from '../../schema/messages.ts';
import { OBJECTS } from '../../schema/nats.ts';
import { storeVerified } from './artifact-cache.ts';
import { checkAndCacheArtifact, judgeChecks, verifyArtifacts, type ArtifactCheck } from './collect.ts';
import { readChunks } from './object-read.ts';

/** Larger artifacts are streamed to the cache file rather than held in memory. */
export const IN_MEMORY_MAX = 8 * 1024 * 1024;

export interface VerifiedResult {
  /** As verifyArtifacts would judge it (a success only if every artifact is there with its digest and size). */
  result: BuildResult;
  /** sha256 -> bytes that hashed to it (the artifacts read into memory). */
  bytes: Map<string, Buffer>;
  /** Settles once those bytes are in the local cache (written while the caller goes on). */
  stored: Promise<void>;
}

type Artifact = BuildResult['artifacts'][number];

/** The object's bytes, or null when it is not a one-read object (absent, or bigger than the limit). */
async function readSmall(os: ObjectStore, sha256: string, jsm: JetStreamManager | undefined): Promise<Buffer | null> {
  const chunks = await readChunks(os, OBJECTS.artifact(sha256), jsm);
  if (!chunks) return null;
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.length;
    if (size > IN_MEMORY_MAX) return null;
    parts.push(chunk);
  }
  return Buffer.concat(parts, size);
}

async function checkInMemory(os: ObjectStore, a: Artifact, cacheDir: string, jsm: JetStreamManager | undefined, kept: Map<string, Buffer>): Promise<ArtifactCheck> {
  const bytes = a.size <= IN_MEMORY_MAX ? await readSmall(os, a.sha256, jsm) : null;
  if (!bytes) return checkAndCacheArtifact(os, a, cacheDir, jsm);
  const got = createHash('sha256').update(bytes).digest('hex');
  if (got !== a.sha256) return { name: a.name, sha256: a.sha256, problem: `artifact ${a.name}: stored bytes hash to sha256 ${got}, not the claimed ${a.sha256}` };
  if (bytes.length !== a.size) return { name: a.name, sha256: a.sha256, problem: `artifact ${a.name}: stored size ${bytes.length} bytes, not the claimed ${a.size}` };
  kept.set(a.sha256, bytes);
  return { name: a.name, sha256: a.sha256 };
}

/** verifyArtifacts (same verdicts), keeping the verified bytes of the artifacts small enough to hold. */
export async function verifyKeepingBytes(os: ObjectStore, result: BuildResult, opts: { cacheDir: string; jsm?: JetStreamManager }): Promise<VerifiedResult> {
  const bytes = new Map<string, Buffer>();
  if (result.outcome !== 'succeeded' || result.artifacts.length === 0) {
    return { result: await verifyArtifacts(os, result, opts), bytes, stored: Promise.resolve() };
  }
  const checks = await Promise.all(result.artifacts.map((a) => checkInMemory(os, a, opts.cacheDir, opts.jsm, bytes)));
  const judged = judgeChecks(result, checks);
  const stored = Promise.all([...bytes].map(([sha256, b]) => storeVerified(opts.cacheDir, sha256, b))).then(() => undefined);
  // Whoever awaits it sees a failure; an early rejection must not count as unhandled meanwhile.
  stored.catch(() => undefined);
  return { result: judged, bytes, stored };
}
