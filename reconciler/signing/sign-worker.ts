// Detached signatures of binary data (artifacts, rpm headers) made in worker
// threads, so that a pass verifying and signing hundreds of results keeps its own
// thread for NATS, git and the plan. The thread's code is sign-thread.js (a plain
// JavaScript module: threads start without tsx); an Ed25519 key signs there through
// node:crypto (ed25519-packet.js) rather than openpgp.js's WebCrypto call; a pool of
// threads (SignPool) uses the cores (scripts/bench-sign.ts measures it).
// It uses openpgp.js's packet classes, not only its public API: package.json pins
// openpgp to one exact version, ed25519-packet.test.ts compares the packets with
// openpgp.js's own, and sign-worker.test.ts fails when the pool is not what answered
// (Signer.fallbacks()). The threads also make the header-signed copies of rpms at
// collect (rpm-copies.js): a batch per message, its rpms in one transferred buffer,
// the copies written by the thread, only their digests and signatures sent back.
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { DigestMismatchError, RpmFormatError, SigningError, SigningKeyError } from '../../schema/errors.ts';
import { RPM_FORMAT } from '../../rpm/signature-header.js';
import { KEY_ERROR } from './ed25519-packet.js';
import type { RpmCopiesTarget, RpmCopy, RpmToSign } from './rpm-copies.js';
import { DIGEST_MISMATCH, type ErrorAnswer } from './thread-errors.js';

export type { RpmCopy, RpmToSign };

const THREAD = new URL('./sign-thread.js', import.meta.url);

type Reply = { id: number; signature?: string | Uint8Array; copies?: Array<RpmCopy | null> } & Partial<ErrorAnswer>;

/** rpms per message to a thread: few messages, yet a pool's threads share a large result evenly. */
export const RPMS_PER_MESSAGE = 32;

/** An error a sign thread answered, as the typed error it stands for. */
export function threadError(a: ErrorAnswer): Error {
  if (a.code === KEY_ERROR) return new SigningKeyError(`the signing key cannot sign: ${a.error}`);
  if (a.code === RPM_FORMAT) return new RpmFormatError(a.error, a.data);
  if (a.code === DIGEST_MISMATCH) return new DigestMismatchError(a.error, a.data);
  // A system call's error (writing the cache) stays one: a full disk is a resource error, not a signing failure.
  if (a.syscall) return Object.assign(new Error(a.error), { code: a.code, syscall: a.syscall, errno: a.errno });
  return new SigningError(`signing failed: ${a.error}`, {}, { kind: 'transient' });
}

/** One worker thread signing binary data with one key; started on first use, again after a crash. */
export class SignWorker {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, { worker: Worker; resolve: (answer: unknown) => void; reject: (e: Error) => void }>();

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
    if (r.error !== undefined) w.reject(threadError({ ...r, error: r.error }));
    else w.resolve(r.signature ?? r.copies);
  }

  /** Stop the thread now: what it was signing is rejected; the next sign() starts a new one. */
  async stop(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    await worker?.terminate();
  }

  private ask(request: Record<string, unknown>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    const worker = (this.worker ??= this.start());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { worker, resolve, reject });
      worker.ref();
      worker.postMessage({ id, ...request }, transfer);
    });
  }

  private askSignature(data: Uint8Array, binary: boolean): Promise<string | Uint8Array> {
    // A view of a larger buffer (an rpm's header inside the file's bytes) would carry the whole buffer to the thread.
    const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : Uint8Array.prototype.slice.call(data);
    return this.ask({ data: own, binary }) as Promise<string | Uint8Array>;
  }

  /** A detached, armored signature of `data`, as Signer.signDetached makes it. */
  sign(data: Uint8Array): Promise<string> {
    return this.askSignature(data, false) as Promise<string>;
  }

  /** The same signature as one binary packet (what rpm puts in a header). */
  signBinary(data: Uint8Array): Promise<Uint8Array> {
    return this.askSignature(data, true).then((s) => new Uint8Array(s as Uint8Array));
  }

  /** Header-signed copies of `rpms` written into the cache by this thread (rpm-copies.js), in order; null: no room in that header. */
  signRpms(target: RpmCopiesTarget, rpms: RpmToSign[]): Promise<Array<RpmCopy | null>> {
    // One copy of the batch's bytes, handed over (transferred), not cloned on both sides.
    const packed = new Uint8Array(rpms.reduce((n, r) => n + r.bytes.byteLength, 0));
    let offset = 0;
    const index = rpms.map(({ name, sha256, size, bytes }) => {
      packed.set(bytes, offset);
      offset += bytes.byteLength;
      return { name, sha256, size, offset: offset - bytes.byteLength, length: bytes.byteLength };
    });
    return this.ask({ rpms: index, bytes: packed.buffer, cacheDir: target.cacheDir, keyAlgorithm: target.keyAlgorithm }, [packed.buffer]) as Promise<Array<RpmCopy | null>>;
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

  /** SignWorker.signRpms, RPMS_PER_MESSAGE rpms at a time spread over the threads. */
  async signRpms(target: RpmCopiesTarget, rpms: RpmToSign[]): Promise<Array<RpmCopy | null>> {
    const batches: RpmToSign[][] = [];
    for (let i = 0; i < rpms.length; i += RPMS_PER_MESSAGE) batches.push(rpms.slice(i, i + RPMS_PER_MESSAGE));
    return (await Promise.all(batches.map((b) => this.least().signRpms(target, b)))).flat();
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.stop()));
  }
}
