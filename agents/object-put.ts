// Putting a small object (one chunk) with two publishes, the chunk and then the
// object's meta with a rollup header, in the layout of NATS ADR-20 that @nats-io/obj
// writes and reads (OBJECT_LAYOUT in schema/nats.ts). ObjectStore.put() first looks
// the name up (one more request, and an error object when it is free) only to purge
// an old object's chunks; here no lookup is made at all:
// - an artifact's chunk id comes from its digest (OBJECTS.artifactChunk), so putting
//   it again replaces its own chunk (rollup) and nothing is left behind;
// - any other object is created only if its name is free (the meta is published
//   expecting no message on its subject); a taken name is reported, not overwritten,
//   and the chunk already stored can then be named otherwise (nameChunk): agents may
//   not purge, so a chunk is left unnamed only when the caller has no use for it.
// A created object's meta is published only after its chunk is stored, so a reader never finds
// it without its bytes; an artifact's chunk and meta go out together, as only the result that
// follows both tells anyone to read it. Readers hash what they read anyway.
import { JetStreamApiCodes, JetStreamApiError, type JetStreamClient } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import { headers, nuid } from '@nats-io/transport-node';
import { OBJECT_LAYOUT, OBJECTS } from '../schema/nats.ts';

/** The library's default chunk size (its put splits bigger objects). */
const MAX_CHUNK = 128 * 1024;

interface StoreInternals {
  js: JetStreamClient;
  bucket: string;
  maxPayload: number;
}

/** The JetStream clients and bucket name behind an ObjectStore from @nats-io/obj (public fields its type does not name). */
function internalsOf(os: ObjectStore): StoreInternals | undefined {
  const impl = os as unknown as { js?: JetStreamClient & { nc?: { info?: { max_payload?: number } } }; name?: unknown };
  if (!impl.js || typeof impl.js.publish !== 'function' || typeof impl.name !== 'string') return undefined;
  return { js: impl.js, bucket: impl.name, maxPayload: impl.js.nc?.info?.max_payload ?? 1024 };
}

const base64Url = (b: Buffer) => b.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');

/** The store's internals when `bytes` fit one chunk of it; else undefined (use ObjectStore.put()). */
function oneChunkStore(os: ObjectStore, bytes: Uint8Array): (StoreInternals & { maxChunk: number }) | undefined {
  const store = internalsOf(os);
  const maxChunk = Math.min(MAX_CHUNK, store?.maxPayload ?? 0);
  if (!store || bytes.length === 0 || bytes.length > maxChunk) return undefined;
  return { ...store, maxChunk };
}

function metaOf(store: StoreInternals & { maxChunk: number }, name: string, chunkId: string, size: number, sha256: string, description?: string): string {
  return JSON.stringify({
    bucket: store.bucket, nuid: chunkId, size, chunks: 1, name, description: description ?? '', options: { max_chunk_size: store.maxChunk },
    mtime: new Date().toISOString(), digest: `SHA-256=${base64Url(Buffer.from(sha256, 'hex'))}`, deleted: false,
  });
}

function rollup() {
  const h = headers();
  h.set('Nats-Rollup', 'sub');
  return h;
}

/**
 * Store an artifact's bytes (whose sha256 in hex the caller computed) under
 * OBJECTS.artifact(sha256), whether or not it is there already. False when this is not a
 * one-chunk object or the store is not @nats-io/obj's: then use ObjectStore.put().
 */
export async function putArtifactObject(os: ObjectStore, bytes: Uint8Array, sha256: string, description?: string): Promise<boolean> {
  const store = oneChunkStore(os, bytes);
  if (!store) return false;
  const chunkId = OBJECTS.artifactChunk(sha256);
  const name = OBJECTS.artifact(sha256);
  // Both in flight at once (one round trip): sent in this order on one connection, and a meta
  // whose chunk failed to store names bytes nobody is told about (the result that points readers
  // here is published only once both are confirmed, and the retried delivery puts both again).
  await Promise.all([
    store.js.publish(OBJECT_LAYOUT.chunk(store.bucket, chunkId), bytes, { headers: rollup() }),
    store.js.publish(OBJECT_LAYOUT.meta(store.bucket, name), metaOf(store, name, chunkId, bytes.length, sha256, description), { headers: rollup() }),
  ]);
  return true;
}

const nameTaken = (e: unknown) =>
  e instanceof JetStreamApiError && (e.code === JetStreamApiCodes.StreamWrongLastSequence || e.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown);

/** Bytes stored as a chunk that the object `name` could not take (see createSmallObject). */
export interface UnnamedChunk {
  taken: string;
  chunkId: string;
  size: number;
  sha256: string;
}

/**
 * Create `name` holding `bytes` (whose sha256 in hex the caller computed) if no object of
 * that name was ever stored (a deleted one counts as there: its meta remains). When the name
 * is taken, nothing names the stored chunk: the caller may give it another name (nameChunk).
 * False when this is not a one-chunk object or the store is not @nats-io/obj's: then use
 * ObjectStore.put().
 */
export async function createSmallObject(os: ObjectStore, name: string, bytes: Uint8Array, sha256: string, description?: string): Promise<'created' | UnnamedChunk | false> {
  const store = oneChunkStore(os, bytes);
  if (!store) return false;
  const chunkId = nuid.next();
  await store.js.publish(OBJECT_LAYOUT.chunk(store.bucket, chunkId), bytes);
  try {
    await store.js.publish(OBJECT_LAYOUT.meta(store.bucket, name), metaOf(store, name, chunkId, bytes.length, sha256, description), { expect: { lastSubjectSequence: 0 } });
    return 'created';
  } catch (e) {
    if (!nameTaken(e)) throw e;
    return { taken: name, chunkId, size: bytes.length, sha256 };
  }
}

/** Make `name` (free, or deleted, or one to replace) the object of a chunk createSmallObject stored. */
export async function nameChunk(os: ObjectStore, name: string, chunk: UnnamedChunk, description?: string): Promise<void> {
  const store = internalsOf(os);
  if (!store) throw new TypeError('nameChunk: not an object store of @nats-io/obj');
  const maxChunk = Math.min(MAX_CHUNK, store.maxPayload);
  await store.js.publish(OBJECT_LAYOUT.meta(store.bucket, name), metaOf({ ...store, maxChunk }, name, chunk.chunkId, chunk.size, chunk.sha256, description), { headers: rollup() });
}
