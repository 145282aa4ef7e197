// Signing throughput, ns per detached signature of N (default 2,000) rpm-header-sized
// buffers with a Kiln key (ed25519), in one run:
//   baseline: openpgp.sign() one at a time in this thread (what the single sign worker
//   did per signature before the pool), and openpgp.sign() 16 in flight (what
//   sign-rpms.ts asked of that worker);
//   signEd25519Packet (ed25519-packet.js: what each sign thread does per signature,
//   the Ed25519 step through node:crypto) one at a time in this thread;
//   Signer.signBinary (the pool of sign-worker.ts): 1 in flight, and 64 in flight.
// Prints, asserts nothing. `node --import tsx scripts/bench-sign.ts [N [ROUNDS]]`
import { availableParallelism, loadavg } from 'node:os';
import * as openpgp from 'openpgp';
import pMap from 'p-map';
import { nodeEd25519Key, signEd25519Packet } from '../reconciler/signing/ed25519-packet.js';
import { poolSize } from '../reconciler/signing/sign-worker.ts';
import { generateKey, loadSigner } from '../reconciler/signing/signer.ts';

const N = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 3);

const k = await generateKey({ name: 'Kiln bench', email: 'bench@kiln.invalid' });
const key = await openpgp.readPrivateKey({ armoredKey: k.privateKeyArmored });
const signer = await loadSigner(k.privateKeyArmored);
// An rpm main header of a small package is a few KB.
const data = Array.from({ length: N }, (_, i) => Buffer.alloc(4096, i & 255));
const { keyPacket } = await key.getSigningKey();
const nodeKey = nodeEd25519Key(keyPacket)!;
const viaPacket = async (d: Uint8Array) => signEd25519Packet(keyPacket, nodeKey, openpgp.enums.hash.sha512, d, new Date(), []);
const viaSign = async (d: Uint8Array) => openpgp.sign({ message: await openpgp.createMessage({ binary: d }), signingKeys: key, detached: true, format: 'binary' });

type Variant = { label: string; concurrency: number; sign: (d: Uint8Array) => Promise<unknown> };

/** ns per signature of each variant, best of ROUNDS; the variants take turns in every round, so a change of the machine's load falls on all of them. */
async function measure(variants: Variant[]): Promise<number[]> {
  for (const v of variants) await pMap(data.slice(0, 50), v.sign, { concurrency: v.concurrency }); // warm-up: threads started, code compiled
  const best = variants.map(() => Infinity);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, v] of variants.entries()) {
      const t0 = performance.now();
      await pMap(data, v.sign, { concurrency: v.concurrency });
      best[i] = Math.min(best[i], ((performance.now() - t0) * 1e6) / N);
    }
  }
  for (const [i, v] of variants.entries()) console.log(`${v.label.padEnd(58)} ${(best[i] / 1000).toFixed(0).padStart(6)} µs/signature (${best[i].toFixed(0)} ns)`);
  return best;
}

console.log(`${N} signatures, best of ${ROUNDS}; ${availableParallelism()} cores, pool of ${poolSize()} threads, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
const [one, sixteen, packet, pool1, pool64] = await measure([
  { label: 'openpgp.sign(), 1 in flight, this thread (baseline)', concurrency: 1, sign: viaSign },
  { label: 'openpgp.sign(), 16 in flight, this thread', concurrency: 16, sign: viaSign },
  { label: 'signEd25519Packet (node:crypto), this thread', concurrency: 1, sign: viaPacket },
  { label: 'Signer.signBinary (pool), 1 in flight', concurrency: 1, sign: (d) => signer.signBinary(d) },
  { label: 'Signer.signBinary (pool), 64 in flight', concurrency: 64, sign: (d) => signer.signBinary(d) },
]);
console.log(`speed-up vs baseline: ${(one / packet).toFixed(1)}x (signEd25519Packet, this thread), ${(one / pool1).toFixed(1)}x (pool, 1 in flight), ${(one / pool64).toFixed(1)}x (pool, 64 in flight); pool vs 16 in flight: ${(sixteen / pool64).toFixed(1)}x`);
process.exit(0);
