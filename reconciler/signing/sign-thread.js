// @ts-check
// A sign thread (started by sign-worker.ts): detached signatures of binary data by one
// key, asked as { id, data, binary } and answered as { id, signature }; and header-signed
// rpm copies written into the artifact cache (rpm-copies.js), asked as { id, rpms, bytes,
// cacheDir, keyAlgorithm } (`bytes`: one transferred buffer holding every rpm of the
// batch, each at its `offset` for `length`) and answered as { id, copies }. An error is
// answered as { id, error, code?, data?, syscall? } (thread-errors.js; code KEY_ERROR:
// the key itself cannot sign).
// The signing (sub)key is chosen and checked once (openpgp.sign() verifies the key's
// self-signatures on every call) and again every minute (expiry, revocation). An
// Ed25519 key signs through node:crypto (ed25519-packet.js); any other key through
// openpgp.js's SignaturePacket.sign.
// Plain JavaScript on purpose: worker threads do not inherit the tsx loader that
// bin/kiln.js registers in-process, and registering tsx in each thread took 250–330 ms
// per thread here against 60–90 ms for a plain module. It holds the decrypted key only
// in this process's memory, as the main thread does.
import { randomBytes } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import * as openpgp from 'openpgp';
import { KEY_ERROR, nodeEd25519Key, signEd25519Packet } from './ed25519-packet.js';
import { signRpmCopies, storeInThread } from './rpm-copies.js';
import { errorAnswer } from './thread-errors.js';

const { enums, LiteralDataPacket, PacketList, SignaturePacket } = openpgp;
const RECHECK_MS = 60000;

/**
 * @typedef {{ keyPacket: import('openpgp').AnyKeyPacket, hashAlgorithm: number, salt: { name: string, size: number } | undefined, nodeKey: import('node:crypto').KeyObject | undefined }} Checked
 * @typedef {import('openpgp').SignaturePacket & { hashAlgorithm: number, rawNotations: import('./ed25519-packet.js').RawNotation[], version: number, sign(key: unknown, data: unknown, date: Date, detached: boolean, config: unknown): Promise<void> }} SignaturePacketParts
 */

/** @type {Promise<Checked> | undefined} */
let checked;
let checkedAt = 0;

/** @returns {Promise<Checked>} */
async function check() {
  const key = await openpgp.readPrivateKey({ armoredKey: workerData.key });
  // What openpgp.sign() would use: the valid signing (sub)key now, the hash its preferences pick,
  // and the random salt notation it adds to a v4 signature (config.nonDeterministicSignaturesViaNotation).
  const signing = await key.getSigningKey();
  const probe = await openpgp.sign({ message: await openpgp.createMessage({ binary: new Uint8Array(0) }), signingKeys: key, detached: true, format: 'object' });
  const { hashAlgorithm, rawNotations } = /** @type {SignaturePacketParts} */ (probe.packets[0]);
  const salt = rawNotations.find((n) => !n.humanReadable);
  return { keyPacket: signing.keyPacket, hashAlgorithm, salt: salt && { name: salt.name, size: salt.value.length }, nodeKey: nodeEd25519Key(signing.keyPacket) };
}

/** @returns {Promise<Checked>} */
function signingKey() {
  if (!checked || Date.now() - checkedAt > RECHECK_MS) {
    checkedAt = Date.now();
    // Whatever fails here is the key's (unreadable, no valid signing key, a secret that does not match): answered with KEY_ERROR.
    checked = check().catch((e) => {
      throw Object.assign(e instanceof Error ? e : new Error(String(e)), { code: KEY_ERROR });
    });
    checked.catch(() => { checked = undefined; });
  }
  return checked;
}

/**
 * The signature packet through openpgp.js alone (RSA, DSA, ECDSA keys).
 * @param {import('openpgp').AnyKeyPacket} keyPacket
 * @param {number} hashAlgorithm
 * @param {Uint8Array} data
 */
async function viaOpenpgp(keyPacket, hashAlgorithm, data) {
  const literal = new LiteralDataPacket();
  /** @type {{ setBytes(bytes: Uint8Array, format: number): void }} */ (/** @type {unknown} */ (literal)).setBytes(data, enums.literal.binary);
  const packet = /** @type {SignaturePacketParts} */ (new SignaturePacket());
  Object.assign(packet, { signatureType: enums.signature.binary, publicKeyAlgorithm: keyPacket.algorithm, hashAlgorithm, rawNotations: [] });
  await packet.sign(keyPacket, literal, new Date(), true, openpgp.config);
  const list = new PacketList();
  list.push(packet);
  return { packet: list.write(), version: packet.version };
}

/** Random bytes drawn a page at a time: one randomBytes call per salt cost ~5 µs of a ~70 µs signature. */
let randomPool = Buffer.alloc(0);
let randomUsed = 0;

/** @param {number} size @returns {Uint8Array} fresh random bytes, never handed out before (a used page is dropped, not refilled) */
function freshRandom(size) {
  if (randomUsed + size > randomPool.length) {
    randomPool = randomBytes(Math.max(4096, size));
    randomUsed = 0;
  }
  randomUsed += size;
  return randomPool.subarray(randomUsed - size, randomUsed);
}

/** @param {Uint8Array} data */
async function signatureOf(data) {
  const { keyPacket, hashAlgorithm, salt, nodeKey } = await signingKey();
  if (!nodeKey) return viaOpenpgp(keyPacket, hashAlgorithm, data);
  const notations = salt ? [{ name: salt.name, value: freshRandom(salt.size), humanReadable: false, critical: false }] : [];
  return { packet: signEd25519Packet(keyPacket, nodeKey, hashAlgorithm, data, new Date(), notations), version: 4 };
}

/**
 * @typedef {{ name: string, sha256: string, size: number, offset: number, length: number }} PackedRpm
 * @typedef {{ id: number, data: Uint8Array, binary: boolean }} SignRequest
 * @typedef {{ id: number, rpms: PackedRpm[], bytes: ArrayBuffer, cacheDir: string, keyAlgorithm: 'rsa' | 'dsa' }} RpmCopiesRequest
 */

/**
 * @param {SignRequest | RpmCopiesRequest} request
 * @returns {Promise<{ id: number, signature: string | Uint8Array } | { id: number, copies: Array<import('./rpm-copies.js').RpmCopy | null> } | ({ id: number } & import('./thread-errors.js').ErrorAnswer)>}
 */
async function answer(request) {
  const { id } = request;
  try {
    if ('rpms' in request) {
      const rpms = request.rpms.map((r) => ({ ...r, bytes: new Uint8Array(request.bytes, r.offset, r.length) }));
      return { id, copies: await signRpmCopies(rpms, request, async (header) => (await signatureOf(header)).packet, storeInThread) };
    }
    const { packet, version } = await signatureOf(request.data);
    // Armored as Signature.armor() does it: with the CRC24 footer unless the signature is v6.
    return { id, signature: request.binary ? packet : openpgp.armor(enums.armor.signature, packet, undefined, undefined, undefined, version !== 6) };
  } catch (caught) {
    return { id, ...errorAnswer(caught) };
  }
}

// Started by sign-worker.ts only: a worker thread, so there is a parent port.
const port = /** @type {import('node:worker_threads').MessagePort} */ (parentPort);
port.on('message', async (request) => port.postMessage(await answer(request)));
