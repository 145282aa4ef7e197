// @ts-check
// Header-signed copies of rpms, made and stored where the key is: in a sign thread
// (sign-thread.js), one message per batch of rpms, so the reconciler's own thread
// neither signs, hashes nor writes them. For each rpm its bytes are checked against
// the recorded digest and size (only the recorded artifact is ever signed), its main
// header signed (the layout: rpm/signature-header.js), the signed copy hashed and
// written into the artifact cache under its own sha256: a temp file renamed into
// place, so a killed process leaves at most an unnamed temp file. Only digests, sizes
// and armored signatures go back, never the signed bytes. A fan-out directory is made
// only when a write finds it missing.
// The writes are asynchronous (libuv's threadpool), a few in flight: creating a file is
// most of the cost here (0.1-0.8 ms of system time each on these machines). Synchronous
// writes in the two sign threads, measured taking turns with this: 8-26% less CPU, but the
// wall time moves with the machine's load (better at load 5-7, twice this at load 10-14:
// two threads blocked in file creations get two threads' share of busy cores); README.
import { createHash } from 'node:crypto';
import { writeFile as writeFileCallback } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import * as openpgp from 'openpgp';
import pMap from 'p-map';
import { parseRpm, signedRpm } from '../../rpm/signature-header.js';
import { cacheTempPath, cachedArtifactPath } from '../pipeline/cache-path.js';
import { DIGEST_MISMATCH } from './thread-errors.js';

/**
 * @typedef {{ name: string, sha256: string, size: number, bytes: Uint8Array }} RpmToSign
 * @typedef {{ sha256: string, size: number, signature: string }} RpmCopy an armored header signature and the copy it is in (cache file `sha256`)
 * @typedef {{ cacheDir: string, keyAlgorithm: 'rsa' | 'dsa' }} RpmCopiesTarget
 * @typedef {(header: Uint8Array) => Promise<Uint8Array>} SignPacket a binary signature packet over the header, by the key
 */

/**
 * rpms of a batch signed and written at a time, and one batch at a time in a thread: a few writes
 * in flight per thread. All of a thread's batches at once (hundreds of writes queued in libuv's
 * threadpool) took 2.8-3.9 s for 2,000 copies against 1.3-2.1 s so (medians, taking turns, load
 * 10-17); 2, 4 and 8 per batch measured alike.
 */
const CONCURRENCY = 4;

/** The batch this thread is working on (the next waits for it, whatever its outcome). */
/** @type {Promise<unknown>} */
let batches = Promise.resolve();

// The callback API on a plain fd: fs/promises makes a FileHandle per file (see artifact-cache.ts).
const writeFile = promisify(writeFileCallback);

/**
 * `bytes` into the cache under `sha256`, which the caller has just computed from them.
 * @param {string} cacheDir @param {string} sha256 @param {Uint8Array} bytes
 */
async function store(cacheDir, sha256, bytes) {
  const dest = cachedArtifactPath(cacheDir, sha256);
  const tmp = cacheTempPath(dest);
  try {
    try {
      await writeFile(tmp, bytes);
    } catch (e) {
      if (/** @type {NodeJS.ErrnoException} */ (e).code !== 'ENOENT') throw e;
      await mkdir(dirname(dest), { recursive: true });
      await writeFile(tmp, bytes);
    }
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** @param {string} name @param {unknown} e */
const named = (name, e) => Object.assign(/** @type {Error} */ (e), { message: `${name}: ${/** @type {Error} */ (e).message}`, data: { artifact: name } });

/**
 * One rpm's signed copy in the cache; null when its header has no room for a signature (rpmsign signs it at publish).
 * @param {RpmToSign} rpm @param {RpmCopiesTarget} target @param {SignPacket} sign
 * @returns {Promise<RpmCopy | null>}
 */
async function copyOf(rpm, target, sign) {
  const bytes = Buffer.from(rpm.bytes.buffer, rpm.bytes.byteOffset, rpm.bytes.byteLength);
  const built = createHash('sha256').update(bytes).digest('hex');
  if (built !== rpm.sha256 || bytes.length !== rpm.size) {
    throw Object.assign(new Error(`${rpm.name}: expected sha256 ${rpm.sha256} (${rpm.size} bytes), the file has ${built} (${bytes.length} bytes)`), { code: DIGEST_MISMATCH, data: { artifact: rpm.name } });
  }
  let layout;
  try {
    layout = parseRpm(bytes);
  } catch (e) {
    throw named(rpm.name, e);
  }
  if (!layout) return null;
  const packet = Buffer.from(await sign(bytes.subarray(layout.mainStart, layout.mainEnd)));
  const copy = signedRpm(bytes, layout, target.keyAlgorithm, packet);
  if (!copy) return null;
  const sha256 = createHash('sha256').update(copy).digest('hex');
  await store(target.cacheDir, sha256, copy);
  // Armored as Signature.armor() does it for a v4 signature (with the CRC24 footer).
  return { sha256, size: copy.length, signature: openpgp.armor(openpgp.enums.armor.signature, packet, undefined, undefined, undefined, true) };
}

/**
 * Each rpm's signed copy in the cache, in order (null: no room, see copyOf); the first error ends the batch.
 * @param {RpmToSign[]} rpms @param {RpmCopiesTarget} target @param {SignPacket} sign
 * @returns {Promise<Array<RpmCopy | null>>}
 */
export function signRpmCopies(rpms, target, sign) {
  const batch = batches.then(() => pMap(rpms, (rpm) => copyOf(rpm, target, sign), { concurrency: CONCURRENCY }));
  batches = batch.catch(() => undefined);
  return batch;
}
