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
// The caller says how a copy is stored (RpmStore). A sign thread writes synchronously
// (storeInThread; it yields to its message queue between batches, so a detached signature
// asked meanwhile waits for one batch at most): each asynchronous write was four hops
// through libuv's threadpool (open, write, close, rename), ~55 µs of CPU per copy beside
// the kernel's own work. Measured taking turns (2,000 rpms, load 3-4, with the other
// changes of that commit): 26-37% less CPU in tmpfs, 16-24% on ext4 (README). The main
// thread (signing there only when the pool failed, signer.ts) stores asynchronously
// (storeOffThread, as the cache's storeVerified does; signing/ does not import the
// pipeline's TypeScript): a blocking call there would stall its NATS client.
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, renameSync, rmSync, writeFile as writeFileCallback, writevSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { dirname } from 'node:path';
import { promisify } from 'node:util';
import * as openpgp from 'openpgp';
import pMap from 'p-map';
import { parseRpm, signedRpmParts } from '../../rpm/signature-header.js';
import { cacheTempPath, cachedArtifactPath } from '../pipeline/cache-path.js';
import { DIGEST_MISMATCH } from './thread-errors.js';

/**
 * @typedef {{ name: string, sha256: string, size: number, bytes: Uint8Array }} RpmToSign
 * @typedef {{ sha256: string, size: number, signature: string }} RpmCopy an armored header signature and the copy it is in (cache file `sha256`)
 * @typedef {{ cacheDir: string, keyAlgorithm: 'rsa' | 'dsa' }} RpmCopiesTarget
 * @typedef {(header: Uint8Array) => Promise<Uint8Array>} SignPacket a binary signature packet over the header, by the key
 * @typedef {(cacheDir: string, sha256: string, parts: Buffer[]) => void | Promise<void>} RpmStore puts one copy (its bytes as pieces, in order) into the cache under `sha256`, computed from them
 */

/**
 * rpms of a batch signed and written at a time, and one batch at a time in a thread. With an
 * asynchronous store (the main thread's) it keeps a few writes in flight: all of a thread's
 * batches at once (hundreds of writes queued in libuv's threadpool) took 2.8-3.9 s for 2,000
 * copies against 1.3-2.1 s so (medians, taking turns, load 10-17). A sign thread's writes
 * block, so there it only lets a signature wait for the key's check without holding up the batch.
 */
const CONCURRENCY = 4;

/** The batch this thread is working on (the next waits for it, whatever its outcome). */
/** @type {Promise<unknown>} */
let batches = Promise.resolve();

/**
 * All of `parts`, in order, at the file's current position: writev may write less than asked.
 * @param {number} fd @param {Buffer[]} parts
 */
function writeAllSync(fd, parts) {
  let rest = parts;
  while (rest.length > 0) {
    let written = writevSync(fd, rest);
    if (written === 0) throw Object.assign(new Error('writev wrote nothing'), { code: 'EIO', syscall: 'writev' });
    while (rest.length > 0 && written >= rest[0].length) {
      written -= rest[0].length;
      rest = rest.slice(1);
    }
    if (written > 0) rest = [rest[0].subarray(written), ...rest.slice(1)];
  }
}

/** @param {string} path @param {Buffer[]} parts */
function writeFileSyncParts(path, parts) {
  const fd = openSync(path, 'wx'); // a temp name is never reused: a clash fails loudly
  try {
    writeAllSync(fd, parts);
  } finally {
    closeSync(fd);
  }
}

/**
 * A sign thread's RpmStore: a temp file renamed into place, with synchronous calls.
 * @type {RpmStore}
 */
export function storeInThread(cacheDir, sha256, parts) {
  const dest = cachedArtifactPath(cacheDir, sha256);
  const tmp = cacheTempPath(dest);
  try {
    try {
      writeFileSyncParts(tmp, parts);
    } catch (e) {
      if (/** @type {NodeJS.ErrnoException} */ (e).code !== 'ENOENT') throw e;
      mkdirSync(dirname(dest), { recursive: true });
      writeFileSyncParts(tmp, parts);
    }
    renameSync(tmp, dest);
  } catch (e) {
    // The write's error is the one to report: removing the temp file may fail the same way (ENOTDIR).
    try {
      rmSync(tmp, { force: true });
    } catch {}
    throw e;
  }
}

// The callback API on a plain fd: fs/promises makes a FileHandle per file (see artifact-cache.ts).
const writeFile = promisify(writeFileCallback);

/**
 * The main thread's RpmStore: the same, with asynchronous calls (the whole copy joined first).
 * @param {string} cacheDir @param {string} sha256 @param {Buffer[]} parts
 * @returns {Promise<void>}
 */
export async function storeOffThread(cacheDir, sha256, parts) {
  const dest = cachedArtifactPath(cacheDir, sha256);
  const tmp = cacheTempPath(dest);
  const bytes = Buffer.concat(parts);
  try {
    try {
      await writeFile(tmp, bytes, { flag: 'wx' });
    } catch (e) {
      if (/** @type {NodeJS.ErrnoException} */ (e).code !== 'ENOENT') throw e;
      await mkdir(dirname(dest), { recursive: true });
      await writeFile(tmp, bytes, { flag: 'wx' });
    }
    await rename(tmp, dest);
  } catch (e) {
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}

/** @param {string} name @param {unknown} e */
const named = (name, e) => Object.assign(/** @type {Error} */ (e), { message: `${name}: ${/** @type {Error} */ (e).message}`, data: { artifact: name } });

/**
 * One rpm's signed copy in the cache; null when its header has no room for a signature (rpmsign signs it at publish).
 * @param {RpmToSign} rpm @param {RpmCopiesTarget} target @param {SignPacket} sign @param {RpmStore} store
 * @returns {Promise<RpmCopy | null>}
 */
async function copyOf(rpm, target, sign, store) {
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
  // The copy as pieces (views of the built bytes around the new signature header): hashed and written without a copy of the whole.
  const copy = signedRpmParts(bytes, layout, target.keyAlgorithm, packet);
  if (!copy) return null;
  const hash = createHash('sha256');
  for (const part of copy) hash.update(part);
  const sha256 = hash.digest('hex');
  await store(target.cacheDir, sha256, copy);
  // Armored as Signature.armor() does it for a v4 signature (with the CRC24 footer).
  return { sha256, size: copy.reduce((n, part) => n + part.length, 0), signature: openpgp.armor(openpgp.enums.armor.signature, packet, undefined, undefined, undefined, true) };
}

/**
 * Each rpm's signed copy in the cache, in order (null: no room, see copyOf); the first error ends the batch.
 * @param {RpmToSign[]} rpms @param {RpmCopiesTarget} target @param {SignPacket} sign @param {RpmStore} store
 * @returns {Promise<Array<RpmCopy | null>>}
 */
export function signRpmCopies(rpms, target, sign, store) {
  // setImmediate between batches: with synchronous writes and an Ed25519 key a batch never waits on
  // I/O, so without it queued batches would run back to back and keep the thread's other requests
  // (detached signatures, sign-thread.js) waiting for all of them.
  const batch = batches.then(() => new Promise(setImmediate)).then(() => pMap(rpms, (rpm) => copyOf(rpm, target, sign, store), { concurrency: CONCURRENCY }));
  batches = batch.catch(() => undefined);
  return batch;
}
