// Detached signatures of binary data (artifacts, rpm headers) made in worker
// threads, so that a pass verifying and signing hundreds of results keeps its own
// thread for NATS, git and the plan. Per signature the worker does only what
// openpgp.js's packet API needs: the signing (sub)key is chosen and checked once
// (openpgp.sign() verifies the key's self-signatures on every call: half its
// cost) and again every minute (expiry, revocation), each signature packet is made
// by openpgp.js's SignaturePacket.sign, and the key is imported into WebCrypto once
// (openpgp.js imports it for every signature). Ed25519 runs on libuv's threadpool
// (WebCrypto), so every thread keeps many signatures in flight; a pool of
// threads (SignPool) uses the cores (scripts/bench-sign.ts measures it).
// It uses openpgp.js's packet classes, not only its public API: package.json pins
// openpgp to one exact version, and sign-worker.test.ts fails when the pool is not
// what answered (Signer.fallbacks()).
// The worker is plain CommonJS run from a string: the process may load TypeScript
// through a loader that worker threads do not inherit. It holds the decrypted key
// only in this process's memory, as the main thread does.
import { availableParallelism } from 'node:os';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { SigningError } from '../../schema/errors.ts';

const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const openpgp = require(workerData.openpgp);
const { enums, LiteralDataPacket, PacketList, Signature, SignaturePacket } = openpgp;
const RECHECK_MS = 60000;
// openpgp.js imports the Ed25519 key into WebCrypto again for every signature (a JWK
// import, a third of its cost): this thread signs with one key only, so the imported
// CryptoKey is kept (per key and usage) and handed back.
const subtle = globalThis.crypto.subtle;
const importKey = subtle.importKey.bind(subtle);
const imported = new Map();
subtle.importKey = (format, keyData, algorithm, extractable, usages) => {
  if (format !== 'jwk' || algorithm !== 'Ed25519' || !keyData.d) return importKey(format, keyData, algorithm, extractable, usages);
  const id = keyData.d + ':' + extractable + ':' + usages;
  if (!imported.has(id)) {
    const key = importKey(format, keyData, algorithm, extractable, usages);
    imported.set(id, key);
    // A failed import is not kept: the next signature tries again.
    key.catch(() => { if (imported.get(id) === key) imported.delete(id); });
  }
  return imported.get(id);
};
let checked;
let checkedAt = 0;
async function check() {
  const key = await openpgp.readPrivateKey({ armoredKey: workerData.key });
  // What openpgp.sign() would use: the valid signing (sub)key now, and the hash its preferences pick.
  const signing = await key.getSigningKey();
  const probe = await openpgp.sign({ message: await openpgp.createMessage({ binary: new Uint8Array(0) }), signingKeys: key, detached: true, format: 'object' });
  return { keyPacket: signing.keyPacket, hashAlgorithm: probe.packets[0].hashAlgorithm };
}
function signingKey() {
  if (!checked || Date.now() - checkedAt > RECHECK_MS) {
    checkedAt = Date.now();
    checked = check();
    checked.catch(() => { checked = undefined; });
  }
  return checked;
}
parentPort.on('message', async ({ id, data, binary }) => {
  try {
    const { keyPacket, hashAlgorithm } = await signingKey();
    const literal = new LiteralDataPacket();
    literal.setBytes(data, enums.literal.binary);
    const packet = new SignaturePacket();
    Object.assign(packet, { signatureType: enums.signature.binary, publicKeyAlgorithm: keyPacket.algorithm, hashAlgorithm, rawNotations: [] });
    await packet.sign(keyPacket, literal, new Date(), true, openpgp.config);
    const list = new PacketList();
    list.push(packet);
    const signature = new Signature(list);
    parentPort.postMessage({ id, signature: binary ? signature.write() : signature.armor() });
  } catch (e) {
    parentPort.postMessage({ id, error: String((e && e.message) || e) });
  }
});
`;

type Reply = { id: number; signature?: string | Uint8Array; error?: string };

/** One worker thread signing binary data with one key; started on first use, again after a crash. */
export class SignWorker {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, { worker: Worker; resolve: (s: string | Uint8Array) => void; reject: (e: Error) => void }>();

  /** `armoredKey`: the decrypted private key, armored. */
  constructor(private readonly armoredKey: string) {}

  /** Signatures asked of this thread and not answered yet. */
  get inFlight(): number {
    return this.waiting.size;
  }

  private start(): Worker {
    const openpgp = createRequire(import.meta.url).resolve('openpgp');
    // No flags of ours: --input-type=module (a process run with -e) would make the code ESM.
    const worker = new Worker(WORKER_CODE, { eval: true, execArgv: [], workerData: { openpgp, key: this.armoredKey } });
    worker.on('message', (r: Reply) => this.settle(r));
    const fail = (err: Error) => {
      if (this.worker === worker) this.worker = undefined;
      // Only what this thread held: a new one may already be signing.
      for (const [id, w] of this.waiting) {
        if (w.worker !== worker) continue;
        this.waiting.delete(id);
        w.reject(new SigningError(`the signing worker stopped: ${err.message}`, {}, { cause: err, kind: 'transient' }));
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`exit code ${code}`)));
    // Idle, it must not keep the process alive (see settle).
    worker.unref();
    return worker;
  }

  private settle(r: Reply): void {
    const w = this.waiting.get(r.id);
    if (!w) return;
    this.waiting.delete(r.id);
    if (this.waiting.size === 0) this.worker?.unref();
    if (r.error !== undefined) w.reject(new SigningError(`signing failed: ${r.error}`, {}, { kind: 'transient' }));
    else w.resolve(r.signature!);
  }

  /** Stop the thread now: what it was signing is rejected; the next sign() starts a new one. */
  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private ask(data: Uint8Array, binary: boolean): Promise<string | Uint8Array> {
    const worker = (this.worker ??= this.start());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { worker, resolve, reject });
      worker.ref();
      worker.postMessage({ id, data, binary });
    });
  }

  /** A detached, armored signature of `data`, as Signer.signDetached makes it. */
  sign(data: Uint8Array): Promise<string> {
    return this.ask(data, false) as Promise<string>;
  }

  /** The same signature as one binary packet (what rpm puts in a header). */
  signBinary(data: Uint8Array): Promise<Uint8Array> {
    return this.ask(data, true).then((s) => new Uint8Array(s as Uint8Array));
  }
}

/** Threads in a pool: one per core, at most 4 (beyond that the threadpool, not the threads, is the limit). */
export const poolSize = (): number => Math.max(1, Math.min(4, availableParallelism()));

/** SignWorkers sharing the work: each signature goes to the thread with the fewest in flight. */
export class SignPool {
  private readonly workers: SignWorker[];

  constructor(armoredKey: string, size = poolSize()) {
    this.workers = Array.from({ length: Math.max(1, size) }, () => new SignWorker(armoredKey));
  }

  private least(): SignWorker {
    return this.workers.reduce((a, b) => (b.inFlight < a.inFlight ? b : a));
  }

  sign(data: Uint8Array): Promise<string> {
    return this.least().sign(data);
  }

  signBinary(data: Uint8Array): Promise<Uint8Array> {
    return this.least().signBinary(data);
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}
