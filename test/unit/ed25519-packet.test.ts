// The sign threads' Ed25519 fast path (node:crypto) against openpgp.js's own
// SignaturePacket.sign: the same key, data, date and salt notation give the same
// bytes (Ed25519 is deterministic), for a legacy EdDSA key (what Kiln generates) and
// an RFC 9580 Ed25519 v4 key; what the fast path makes with a fresh salt verifies.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import * as openpgp from 'openpgp';
import { KEY_ERROR, nodeEd25519Key, signEd25519Packet, type RawNotation } from '../../reconciler/signing/ed25519-packet.js';
import { generateKey } from '../../reconciler/signing/signer.ts';

const { enums, PacketList, SignaturePacket } = openpgp;

/** openpgp.js's packet for the same inputs (its own salt notation off: ours is given). */
async function slowPacket(keyPacket: openpgp.AnyKeyPacket, hashAlgorithm: number, data: Uint8Array, date: Date, notations: RawNotation[]): Promise<Uint8Array> {
  const literal = (await openpgp.createMessage({ binary: data })).packets[0];
  // SignaturePacket.sign's typings lag the pinned version (it takes a config).
  const packet = new SignaturePacket() as unknown as openpgp.SignaturePacket & { sign(key: unknown, data: unknown, date: Date, detached: boolean, config: unknown): Promise<void> };
  Object.assign(packet, { signatureType: enums.signature.binary, publicKeyAlgorithm: keyPacket.algorithm, hashAlgorithm, rawNotations: notations.map((n) => ({ ...n })) });
  await packet.sign(keyPacket, literal, date, true, { ...openpgp.config, nonDeterministicSignaturesViaNotation: false });
  const list = new PacketList();
  list.push(packet);
  return list.write();
}

async function keys(): Promise<Array<{ label: string; armored: string; publicArmored: string }>> {
  const legacy = await generateKey({ name: 'Kiln Test', email: 'test@kiln.invalid' });
  const modern = await openpgp.generateKey({ type: 'curve25519', userIDs: [{ name: 'Kiln 9580', email: 'rfc9580@kiln.invalid' }], format: 'armored', config: { v6Keys: false } });
  return [
    { label: 'ed25519Legacy', armored: legacy.privateKeyArmored, publicArmored: legacy.publicKeyArmored },
    { label: 'curve25519 (v4, RFC 9580 ed25519)', armored: modern.privateKey, publicArmored: modern.publicKey },
  ];
}

test('ed25519 packet - equals openpgp.js SignaturePacket.sign byte for byte (with and without a salt notation), and verifies', async () => {
  for (const k of await keys()) {
    const key = await openpgp.readPrivateKey({ armoredKey: k.armored });
    const { keyPacket } = await key.getSigningKey();
    const nodeKey = nodeEd25519Key(keyPacket);
    assert.ok(nodeKey, `${k.label}: an Ed25519 key`);
    // After the key's creation (verify checks it), with milliseconds (a signature holds seconds).
    const date = new Date(key.getCreationTime().getTime() + 750);
    for (const hash of [enums.hash.sha256, enums.hash.sha512]) {
      for (const notations of [[], [{ name: 'salt@notations.openpgpjs.org', value: randomBytes(32), humanReadable: false, critical: false }]]) {
        const data = randomBytes(4096);
        const fast = signEd25519Packet(keyPacket, nodeKey, hash, data, date, notations);
        assert.deepEqual(Buffer.from(fast), Buffer.from(await slowPacket(keyPacket, hash, data, date, notations)), `${k.label}, hash ${hash}, ${notations.length} notations`);
        const result = await openpgp.verify({
          message: await openpgp.createMessage({ binary: data }),
          signature: await openpgp.readSignature({ binarySignature: fast }),
          verificationKeys: await openpgp.readKey({ armoredKey: k.publicArmored }),
        });
        await result.signatures[0].verified;
      }
    }
  }
});

test('ed25519 packet - other keys are not taken (rsa signs through openpgp.js); a weak hash is refused', async () => {
  const rsa = await openpgp.generateKey({ type: 'rsa', rsaBits: 2048, userIDs: [{ name: 'Kiln RSA', email: 'rsa@kiln.invalid' }], format: 'armored', config: { v6Keys: false } });
  const rsaKey = await openpgp.readPrivateKey({ armoredKey: rsa.privateKey });
  assert.equal(nodeEd25519Key((await rsaKey.getSigningKey()).keyPacket), undefined);
  const [legacy] = await keys();
  const { keyPacket } = await (await openpgp.readPrivateKey({ armoredKey: legacy.armored })).getSigningKey();
  assert.throws(() => signEd25519Packet(keyPacket, nodeEd25519Key(keyPacket)!, enums.hash.sha1, Buffer.from('x'), new Date(), []), /too weak/);
});

test('ed25519 packet - a secret that does not match the public key is refused with the key error code (KILN_SIGNING_KEY)', async () => {
  const [a, b] = await Promise.all([generateKey({ name: 'Kiln A', email: 'a@kiln.invalid' }), generateKey({ name: 'Kiln B', email: 'b@kiln.invalid' })]);
  const mixed = (await openpgp.readPrivateKey({ armoredKey: a.privateKeyArmored })).keyPacket as unknown as openpgp.AnyKeyPacket & { privateParams: { seed: Uint8Array } };
  const other = (await openpgp.readPrivateKey({ armoredKey: b.privateKeyArmored })).keyPacket as unknown as { privateParams: { seed: Uint8Array } };
  assert.ok(nodeEd25519Key(mixed), 'the key as it is');
  mixed.privateParams.seed = other.privateParams.seed;
  assert.throws(() => nodeEd25519Key(mixed), (e: Error & { code?: string }) => e.code === KEY_ERROR && KEY_ERROR === 'KILN_SIGNING_KEY' && /does not match/.test(e.message));
});
