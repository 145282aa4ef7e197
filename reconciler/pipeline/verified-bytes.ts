// Verifying a result's artifacts with ONE read of each: the bytes come from the
// object store into memory, are hashed and sized there, and the very same bytes
// then serve the publish guard (publishable.ts) and the signer, and are written
// into the local cache for the publisher. Before, each artifact was streamed into
// the cache, stat'ed, read back by the guard and read back again by the signer:
// six file operations per artifact on the pass's critical path.
// Artifacts bigger than IN_MEMORY_MAX, those that would take the bytes held by all
// results in flight past MEMORY_BUDGET, and any object that is not what the store
// says (absent, e.g. lost with its bucket but still in the cache; longer than
// claimed) take the streaming path of collect.ts instead, with the same verdicts.
import { createHash } from 'node:crypto';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import type { BuildResult } from '../../schema/messages.ts';
import { OBJECTS } from '../../schema/nats.ts';
import { storeVerified } from './artifact-cache.ts';
import { checkAndCacheArtifact, judgeChecks, verifyArtifacts, type ArtifactCheck } from './collect.ts';
import { readArtifactChunks } from './object-read.ts';

/** Larger artifacts are streamed to the cache file rather than held in memory. */
export const IN_MEMORY_MAX = 8 * 1024 * 1024;
/** Bytes held in memory at once over every result being verified and signed. */
export const MEMORY_BUDGET = 256 * 1024 * 1024;
let held = 0;

export interface VerifiedResult {
  /** As verifyArtifacts would judge it (a success only if every artifact is there with its digest and size). */
  result: BuildResult;
  /** sha256 -> bytes that hashed to it (the artifacts read into memory). */
  bytes: Map<string, Buffer>;
  /** Settles once those bytes are in the local cache (written while the caller goes on). */
  stored: Promise<void>;
  /** The caller is done with `bytes`: give their room in MEMORY_BUDGET back (idempotent). */
  release(): void;
}

type Artifact = BuildResult['artifacts'][number];

/** The object's bytes, or null when there is no such object or it is longer than `limit`. */
async function readSmall(os: ObjectStore, sha256: string, jsm: JetStreamManager | undefined, limit: number): Promise<Buffer | null> {
  const chunks = await readArtifactChunks(os, sha256, jsm);
  if (!chunks) return null;
  const parts: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of chunks) {
    size += chunk.length;
    if (size > limit) return null;
    parts.push(chunk);
  }
  return Buffer.concat(parts, size);
}

/** Room for `size` bytes in the budget, or false. */
function reserve(size: number, reserved: number[]): boolean {
  if (size > IN_MEMORY_MAX || held + size > MEMORY_BUDGET) return false;
  held += size;
  reserved.push(size);
  return true;
}

async function checkInMemory(os: ObjectStore, a: Artifact, opts: { cacheDir: string; jsm?: JetStreamManager }, kept: Map<string, Buffer>, reserved: number[]): Promise<ArtifactCheck> {
  // Read at most the claimed size: a longer object is judged by the streaming path (which hashes all of it).
  const bytes = reserve(a.size, reserved) ? await readSmall(os, a.sha256, opts.jsm, a.size) : null;
  if (!bytes) return checkAndCacheArtifact(os, a, opts.cacheDir, opts.jsm);
  const got = createHash('sha256').update(bytes).digest('hex');
  if (got !== a.sha256) return { name: a.name, sha256: a.sha256, problem: `artifact ${a.name}: stored bytes hash to sha256 ${got}, not the claimed ${a.sha256}` };
  if (bytes.length !== a.size) return { name: a.name, sha256: a.sha256, problem: `artifact ${a.name}: stored size ${bytes.length} bytes, not the claimed ${a.size}` };
  kept.set(a.sha256, bytes);
  return { name: a.name, sha256: a.sha256 };
}

export interface VerifyKeepingOptions {
  cacheDir: string;
  jsm?: JetStreamManager;
  /**
   * False: the bytes held in memory are not written into the cache (no distribution will
   * publish them; a publish or gate fetches from the object store, which keeps artifacts).
   */
  cache?: boolean;
}

/** verifyArtifacts (same verdicts), keeping the verified bytes of the artifacts small enough to hold. */
export async function verifyKeepingBytes(os: ObjectStore, result: BuildResult, opts: VerifyKeepingOptions): Promise<VerifiedResult> {
  const bytes = new Map<string, Buffer>();
  if (result.outcome !== 'succeeded' || result.artifacts.length === 0) {
    return { result: await verifyArtifacts(os, result, opts), bytes, stored: Promise.resolve(), release: () => undefined };
  }
  const reserved: number[] = [];
  const release = () => {
    for (const size of reserved.splice(0)) held -= size;
  };
  let checks: ArtifactCheck[];
  try {
    checks = await Promise.all(result.artifacts.map((a) => checkInMemory(os, a, opts, bytes, reserved)));
  } catch (e) {
    release();
    throw e;
  }
  const judged = judgeChecks(result, checks);
  const stored = opts.cache === false ? Promise.resolve() : Promise.all([...bytes].map(([sha256, b]) => storeVerified(opts.cacheDir, sha256, b))).then(() => undefined);
  // Whoever awaits it sees a failure; an early rejection must not count as unhandled meanwhile.
  stored.catch(() => undefined);
  return { result: judged, bytes, stored, release };
}
