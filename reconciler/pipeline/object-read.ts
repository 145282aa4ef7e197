// Reading an object's bytes from the JetStream object store. ObjectStore.get()
// creates a push consumer per object, which costs ~1 ms and server work per
// read; an artifact or a log is usually one chunk, which a single stream
// message get returns directly (layout of NATS ADR-20: stream OBJ_<bucket>,
// chunks on $O.<bucket>.C.<nuid>). Measured: 0.08 ms vs 0.89 ms per small object.
// Callers hash what they read: nothing here is trusted to be what was claimed.
import type { JetStreamManager } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';

export type Chunks = AsyncIterable<Uint8Array>;

async function* fromGet(os: ObjectStore, name: string): Chunks {
  const obj = await os.get(name);
  if (!obj) return;
  for await (const chunk of obj.data) yield chunk;
  const err = await obj.error;
  if (err) throw err;
}

/**
 * The JetStreamManager behind an ObjectStore from @nats-io/obj (its ObjectStoreImpl
 * keeps one in a public field, though the type does not say so). Undefined when
 * absent: then reads go through ObjectStore.get(), which is correct, only slower.
 */
function managerOf(os: ObjectStore): JetStreamManager | undefined {
  const jsm = (os as { jsm?: JetStreamManager }).jsm;
  return jsm && typeof jsm.streams?.getMessage === 'function' ? jsm : undefined;
}

/**
 * The object's bytes as chunks, or null when there is no such object. A one-chunk
 * object is read with one direct message get (through `jsm`, or the store's own
 * manager); bigger ones through ObjectStore.get().
 */
export async function readChunks(os: ObjectStore, name: string, jsmIn?: JetStreamManager): Promise<Chunks | null> {
  const jsm = jsmIn ?? managerOf(os);
  const info = await os.info(name);
  if (!info || info.deleted) return null;
  if (info.size === 0) return (async function* () {})();
  if (!jsm || info.chunks !== 1 || info.options?.link) return fromGet(os, name);
  // getMessage already returns null when there is no such message; any error (timeout,
  // reconnect) must propagate, or a good build would be recorded as an integrity failure.
  const m = await jsm.streams.getMessage(`OBJ_${info.bucket}`, { last_by_subj: `$O.${info.bucket}.C.${info.nuid}` });
  if (!m) return null;
  return (async function* () {
    yield m.data;
  })();
}
