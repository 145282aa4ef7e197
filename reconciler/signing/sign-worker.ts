// Detached signatures of binary data (artifacts) made in a worker thread, so that
// a pass verifying and signing hundreds of results keeps its own thread for NATS,
// git and the plan: one openpgp.js signature costs ~0.5 ms of CPU (profile of
// scripts/bench-dispatch), most of it key import and packet work, not hashing.
// The worker is plain CommonJS run from a string: the process may load TypeScript
// through a loader that worker threads do not inherit. It holds the decrypted key
// only in this process's memory, as the main thread does.
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { SigningError } from '../../schema/errors.ts';

const WORKER_CODE = `
const { parentPort, workerData } = require('node:worker_threads');
const openpgp = require(workerData.openpgp);
const key = openpgp.readPrivateKey({ armoredKey: workerData.key });
parentPort.on('message', async ({ id, data }) => {
  try {
    const message = await openpgp.createMessage({ binary: data });
    const signature = await openpgp.sign({ message, signingKeys: await key, detached: true, format: 'armored' });
    parentPort.postMessage({ id, signature });
  } catch (e) {
    parentPort.postMessage({ id, error: String((e && e.message) || e) });
  }
});
`;

type Reply = { id: number; signature?: string; error?: string };

/** One worker thread signing binary data with one key; started on first use, again after a crash. */
export class SignWorker {
  private worker: Worker | undefined;
  private nextId = 0;
  private readonly waiting = new Map<number, { worker: Worker; resolve: (s: string) => void; reject: (e: Error) => void }>();

  /** `armoredKey`: the decrypted private key, armored. */
  constructor(private readonly armoredKey: string) {}

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

  /** A detached, armored signature of `data`, as Signer.signDetached makes it. */
  sign(data: Uint8Array): Promise<string> {
    const worker = (this.worker ??= this.start());
    const id = this.nextId++;
    return new Promise<string>((resolve, reject) => {
      this.waiting.set(id, { worker, resolve, reject });
      worker.ref();
      worker.postMessage({ id, data });
    });
  }
}
