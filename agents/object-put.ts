// Putting a small object (one chunk) whose name was just seen free: two publishes,
// the chunk and then the object's meta with a rollup header, in the layout of NATS
// ADR-20 that @nats-io/obj writes and reads (stream OBJ_<bucket>, chunks on
// $O.<bucket>.C.<nuid>, meta on $O.<bucket>.M.<base64url(name)>). ObjectStore.put()
// first looks the name up again (one more request, and an error object when it is
// free) only to purge an old object's chunks, of which a free name has none.
// The meta is published only after the chunk is stored, so a reader never finds
// an object whose bytes are missing; readers hash what they read anyway.
import type { JetStreamClient } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import { headers, nuid } from '@nats-io/transport-node';

/** The library's default chunk size (its put splits bigger objects). */
const MAX_CHUNK = 128 * 1024;

/** The JetStream client and bucket name behind an ObjectStore from @nats-io/obj (public fields its type does not name). */
function internalsOf(os: ObjectStore): { js: JetStreamClient; bucket: string; maxPayload: number } | undefined {
  const impl = os as unknown as { js?: JetStreamClient & { nc?: { info?: { max_payload?: number } } }; name?: unknown };
  if (!impl.js || typeof impl.js.publish !== 'function' || typeof impl.name !== 'string') return undefined;
  return { js: impl.js, bucket: impl.name, maxPayload: impl.js.nc?.info?.max_payload ?? 1024 };
}

const base64Url = (b: Buffer) => b.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');

/**
 * Store `bytes` (whose sha256 in hex the caller computed) under `name`, which the caller
 * found absent (or deleted) just now. False when
 * this is not a one-chunk object or the store is not @nats-io/obj's: then use ObjectStore.put().
 */
export async function putNewSmallObject(os: ObjectStore, name: string, bytes: Uint8Array, sha256: string, description?: string): Promise<boolean> {
  const store = internalsOf(os);
  const maxChunk = Math.min(MAX_CHUNK, store?.maxPayload ?? 0);
  if (!store || bytes.length === 0 || bytes.length > maxChunk) return false;
  const id = nuid.next();
  await store.js.publish(`$O.${store.bucket}.C.${id}`, bytes);
  const info = {
    bucket: store.bucket, nuid: id, size: bytes.length, chunks: 1, name, description: description ?? '', options: { max_chunk_size: maxChunk },
    mtime: new Date().toISOString(), digest: `SHA-256=${base64Url(Buffer.from(sha256, 'hex'))}`, deleted: false,
  };
  const h = headers();
  h.set('Nats-Rollup', 'sub');
  await store.js.publish(`$O.${store.bucket}.M.${base64Url(Buffer.from(name, 'latin1'))}`, JSON.stringify(info), { headers: h });
  return true;
}
