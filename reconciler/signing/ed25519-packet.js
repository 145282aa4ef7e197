// @ts-check
// One detached binary-document OpenPGP signature packet by an Ed25519 key, with the
// Ed25519 step done by node:crypto: openpgp.js's SignaturePacket.sign goes through
// WebCrypto for it (an async call through libuv's threadpool, a JWK key import and
// WebIDL checks every time: ~190 µs per signature where the native signature is
// ~30 µs). openpgp.js still lays out and serializes the packet (hashed subpackets,
// the v4 trailer, the r/s MPIs): Kiln does not write OpenPGP itself. The output is
// byte for byte what SignaturePacket.sign makes for the same date and salt notation
// (Ed25519 is deterministic; ed25519-packet.test.ts compares them), so rpm, gpg and
// openpgp.js verify it as before.
// Plain JavaScript, type-checked from its JSDoc (// @ts-check; tsconfig allowJs): it runs in the sign threads,
// which start without tsx (see sign-thread.js).
import { createHash, createPrivateKey, createPublicKey, sign } from 'node:crypto';
import { enums, LiteralDataPacket, PacketList, SignaturePacket } from 'openpgp';

/**
 * openpgp.js internals used here, absent from its typings (package.json pins its version).
 * @typedef {{ version: number, algorithm: number, privateParams?: { seed: Uint8Array }, publicParams: { Q?: Uint8Array, A?: Uint8Array }, getFingerprintBytes(): Uint8Array | null, getKeyID(): import('openpgp').KeyID }} KeyPacketParts
 * @typedef {import('openpgp').SignaturePacket & { signatureType: number, publicKeyAlgorithm: number, signatureData: Uint8Array, signedHashValue: Uint8Array, params: object, writeHashedSubPackets(): Uint8Array, toHash(signatureType: number, data: import('openpgp').LiteralDataPacket, detached: boolean): Uint8Array }} SignaturePacketParts
 * @typedef {{ setBytes(bytes: Uint8Array, format: number): void }} LiteralParts
 * @typedef {{ name: string, value: Uint8Array, humanReadable: boolean, critical: boolean }} RawNotation
 */

/** @param {Uint8Array} bytes */
const b64url = (bytes) => Buffer.from(bytes).toString('base64url');

/** The code of an error about the key itself (SigningKeyError's): the sign thread passes it on, and no other thread signs instead. */
/** @type {'KILN_SIGNING_KEY'} */
export const KEY_ERROR = 'KILN_SIGNING_KEY';

/**
 * node:crypto's private key for a v4 Ed25519 signing key packet (legacy EdDSA or RFC 9580
 * Ed25519); undefined for any other key (those sign through openpgp.js). Throws (code
 * KEY_ERROR) when the secret does not match the public key.
 * @param {import('openpgp').AnyKeyPacket} anyKeyPacket
 * @returns {import('node:crypto').KeyObject | undefined}
 */
export function nodeEd25519Key(anyKeyPacket) {
  const keyPacket = /** @type {KeyPacketParts} */ (/** @type {unknown} */ (anyKeyPacket));
  if (keyPacket.version !== 4 || !keyPacket.privateParams) return undefined;
  /** @type {Uint8Array | undefined} */
  let publicKey;
  // Legacy EdDSA keeps the point with a 0x40 prefix (native encoding); only Ed25519 uses that algorithm.
  if (keyPacket.algorithm === enums.publicKey.eddsaLegacy) publicKey = keyPacket.publicParams.Q?.subarray(1);
  else if (keyPacket.algorithm === enums.publicKey.ed25519) publicKey = keyPacket.publicParams.A;
  else return undefined;
  if (!publicKey) return undefined;
  const key = createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: b64url(keyPacket.privateParams.seed), x: b64url(publicKey) }, format: 'jwk' });
  // The JWK's x is not checked by the import: a secret of another key would sign unverifiable packets.
  if (createPublicKey(key).export({ format: 'jwk' }).x !== b64url(publicKey)) throw Object.assign(new Error('the Ed25519 secret does not match the signing key'), { code: KEY_ERROR });
  return key;
}

/** An empty binary document: what openpgp.js hashes after the document itself (see signEd25519Packet). */
const NO_DOCUMENT = new LiteralDataPacket();
/** @type {LiteralParts} */ (/** @type {unknown} */ (NO_DOCUMENT)).setBytes(new Uint8Array(0), enums.literal.binary);

/**
 * node:crypto's name of an OpenPGP hash algorithm (sha256, sha512, sha3-256…).
 * @param {number} hashAlgorithm
 */
const hashName = (hashAlgorithm) => String(enums.read(enums.hash, hashAlgorithm)).replace('_', '-');

/**
 * The binary packet (with its packet header, as Signature.write() gives it) of a v4 detached
 * signature of `data` as a binary document. `notations`: raw notations to put in the hashed area
 * (openpgp.js's random salt notation, see sign-thread.js); `date`: the creation time.
 * @param {import('openpgp').AnyKeyPacket} anyKeyPacket
 * @param {import('node:crypto').KeyObject} nodeKey
 * @param {number} hashAlgorithm
 * @param {Uint8Array} data
 * @param {Date} date
 * @param {RawNotation[]} notations
 * @returns {Uint8Array}
 */
export function signEd25519Packet(anyKeyPacket, nodeKey, hashAlgorithm, data, date, notations) {
  const keyPacket = /** @type {KeyPacketParts} */ (/** @type {unknown} */ (anyKeyPacket));
  const packet = /** @type {SignaturePacketParts} */ (new SignaturePacket());
  Object.assign(packet, {
    version: 4,
    signatureType: enums.signature.binary,
    publicKeyAlgorithm: keyPacket.algorithm,
    hashAlgorithm,
    rawNotations: notations,
    created: new Date(Math.floor(date.getTime() / 1000) * 1000),
    issuerKeyVersion: 4,
    issuerFingerprint: keyPacket.getFingerprintBytes(),
    issuerKeyID: keyPacket.getKeyID(),
  });
  const hashed = packet.writeHashedSubPackets();
  packet.signatureData = Buffer.concat([Uint8Array.of(4, packet.signatureType, packet.publicKeyAlgorithm, hashAlgorithm), hashed]);
  // openpgp.js's own bytes to hash: the document, then the hashed area and the v4 trailer. A v4
  // binary signature hashes the document's bytes as they are, first: they go to the hash straight,
  // and openpgp.js lays out the rest (toHash of an empty document), not a copy of the whole header.
  const digest = createHash(hashName(hashAlgorithm)).update(data).update(packet.toHash(packet.signatureType, NO_DOCUMENT, true)).digest();
  // RFC 9580 5.2.3.3/5.2.3.4: EdDSA needs at least a 256-bit digest (openpgp.js refuses the same).
  if (digest.length < 32) throw new Error('Hash algorithm too weak for EdDSA.');
  const rs = new Uint8Array(sign(null, digest, nodeKey));
  packet.signedHashValue = new Uint8Array(digest.subarray(0, 2));
  packet.params = keyPacket.algorithm === enums.publicKey.eddsaLegacy ? { r: rs.subarray(0, 32), s: rs.subarray(32) } : { RS: rs };
  const list = new PacketList();
  list.push(packet);
  return list.write();
}
