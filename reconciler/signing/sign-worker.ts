// Detached signatures of binary data (artifacts, rpm headers) made in worker
// threads, so that a pass verifying and signing hundreds of results keeps its own
// thread for NATS, git and the plan. The thread's code is sign-thread.js (a plain
// JavaScript module: threads start without tsx); an Ed25519 key signs there through
// node:crypto (ed25519-packet.js) rather than openpgp.js's WebCrypto call; a pool of
// threads (SignPool) uses the cores (scripts/bench-sign.ts measures it).
// It uses openpgp.js's packet classes, not only its public API: package.json pins
// openpgp to one exact version, ed25519-packet.test.ts compares the packets with
// openpgp.js's own, and sign-worker.test.ts fails when the pool is not what answered
// (Signer.fallbacks()).
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { SigningError, SigningKeyError } from '../../schema/errors.ts';
import { KEY_ERROR } from './ed25519-packet.js';

const THREAD = new URL('./sign-thread.js', import.meta.url);

type Reply = { id: number; signature?: string | Uint8Array; error?: string; code?: string };

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
    // None of the process's flags: the thread needs no loader (--import tsx would cost its start-up time).
    const worker = new Worker(THREAD, { execArgv: [], workerData: { key: this.armoredKey } });
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
    if (r.error !== undefined && r.code === KEY_ERROR) w.reject(new SigningKeyError(`the signing key cannot sign: ${r.error}`));
    else if (r.error !== undefined) w.reject(new SigningError(`signing failed: ${r.error}`, {}, { kind: 'transient' }));
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
    // A view of a larger buffer (an rpm's header inside the file's bytes) would carry the whole buffer to the thread.
    const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { worker, resolve, reject });
      worker.ref();
      worker.postMessage({ id, data: own, binary });
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
