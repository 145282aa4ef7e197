// Signing throughput, ns per detached signature of N (default 2,000) rpm-header-sized
// buffers with a Kiln key (ed25519), in one run:
//   baseline: openpgp.sign() one at a time in this thread (what the single sign worker
//   did per signature before the pool), and openpgp.sign() 16 in flight (what
//   sign-rpms.ts asked of that worker);
//   Signer.signBinary (the pool of sign-worker.ts): 1 in flight, and 64 in flight.
// Prints, asserts nothing. `node --import tsx scripts/bench-sign.ts [N [ROUNDS]]`
import { availableParallelism, loadavg } from 'node:os';
import * as openpgp from 'openpgp';
import pMap from 'p-map';
import { poolSize } from '../reconciler/signing/sign-worker.ts';
import { generateKey, loadSigner } from '../reconciler/signing/signer.ts';

const N = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 3);

const k = await generateKey({ name: 'Kiln bench', email: 'bench@kiln.invalid' });
const key = await openpgp.readPrivateKey({ armoredKey: k.privateKeyArmored });
const signer = await loadSigner(k.privateKeyArmored);
// An rpm main header of a small package is a few KB.
const data = Array.from({ length: N }, (_, i) => Buffer.alloc(4096, i & 255));
const viaSign = async (d: Uint8Array) => openpgp.sign({ message: await openpgp.createMessage({ binary: d }), signingKeys: key, detached: true, format: 'binary' });

async function best(label: string, concurrency: number, f: (d: Uint8Array) => Promise<unknown>): Promise<number> {
  await pMap(data.slice(0, 50), f, { concurrency }); // warm-up: threads started, code compiled
  let min = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = performance.now();
    await pMap(data, f, { concurrency });
    min = Math.min(min, performance.now() - t0);
  }
  const ns = (min * 1e6) / N;
  console.log(`${label.padEnd(58)} ${(ns / 1000).toFixed(0).padStart(6)} µs/signature (${ns.toFixed(0)} ns)`);
  return ns;
}

console.log(`${N} signatures, best of ${ROUNDS}; ${availableParallelism()} cores, pool of ${poolSize()} threads, load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
const one = await best('openpgp.sign(), 1 in flight, this thread (baseline)', 1, viaSign);
const sixteen = await best('openpgp.sign(), 16 in flight, this thread', 16, viaSign);
const pool1 = await best('Signer.signBinary (pool), 1 in flight', 1, (d) => signer.signBinary(d));
const pool64 = await best('Signer.signBinary (pool), 64 in flight', 64, (d) => signer.signBinary(d));
console.log(`speed-up vs baseline: ${(one / pool1).toFixed(1)}x (1 in flight), ${(one / pool64).toFixed(1)}x (64 in flight); vs 16 in flight: ${(sixteen / pool64).toFixed(1)}x`);
process.exit(0);
