// One build's log: every chunk goes to a file (hashed as it is written, so the
// full log can be stored with its digest) and, batched, to the live log subject
// so `kiln logs -f` can follow the build. Live lines are best effort; the file is
// the record.
//
// Wire format: see LOG_HEADERS in schema/nats.ts (chunks of up to MAX_CHUNK bytes).
import { createHash, type Hash } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { LOG_HEADERS, SUBJECTS } from '../schema/nats.ts';

const MAX_CHUNK = 64 * 1024;
const FLUSH_MS = 200;
const TAIL_BYTES = 64 * 1024;
export const DEFAULT_MAX_LOG_BYTES = 64 * 1024 * 1024;

export interface LogSummary {
  path: string;
  sha256: string;
  size: number;
  /** The end of the log (for logTail). */
  tailText: string;
  /** The whole log, when it is small enough to be all in the tail kept in memory (then delivery need not read the file). */
  bytes?: Buffer;
}

export class BuildLog {
  private readonly file: WriteStream;
  private readonly hash: Hash = createHash('sha256');
  private size = 0;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private tailBuf = Buffer.alloc(0);

  private truncated = false;
  /** A write error (e.g. ENOSPC): reported by finish(), never thrown from write() (which would crash the agent). */
  private fileError: Error | undefined;

  constructor(
    private readonly nc: NatsConnection | undefined,
    private readonly key: string,
    private readonly attempt: number,
    readonly path: string,
    private readonly log: Logger,
    /** A build that prints more than this keeps running, but its log stops here. */
    private readonly maxBytes = DEFAULT_MAX_LOG_BYTES,
  ) {
    this.file = createWriteStream(path);
    this.file.on('error', (e) => {
      this.fileError ??= e;
      this.log.error({ err: e, path }, 'cannot write the build log');
    });
  }

  /** Append build output. Never throws: a broken live stream must not fail the build. */
  write(chunk: Buffer | string): void {
    let b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (b.length === 0 || this.truncated || this.fileError) return;
    if (this.size + b.length > this.maxBytes) {
      this.truncated = true;
      b = Buffer.concat([b.subarray(0, Math.max(0, this.maxBytes - this.size)), Buffer.from(`\nkiln: log truncated at ${this.maxBytes} bytes\n`)]);
    }
    this.file.write(b);
    this.hash.update(b);
    this.size += b.length;
    this.tailBuf = Buffer.concat([this.tailBuf, b]);
    if (this.tailBuf.length > 2 * TAIL_BYTES) this.tailBuf = this.tailBuf.subarray(this.tailBuf.length - TAIL_BYTES);
    this.pending.push(b);
    this.pendingBytes += b.length;
    if (this.pendingBytes >= MAX_CHUNK) this.flush();
    else this.timer ??= setTimeout(() => this.flush(), FLUSH_MS);
  }

  private publish(payload: Uint8Array, end?: string): void {
    if (!this.nc || this.nc.isClosed()) return;
    const h = headers();
    h.set(LOG_HEADERS.attempt, String(this.attempt));
    if (end) h.set(LOG_HEADERS.end, end);
    try {
      this.nc.publish(SUBJECTS.log(this.key), payload, { headers: h });
    } catch (e) {
      this.log.debug({ err: e }, 'live log publish failed');
    }
  }

  /** Publish what is pending; with `end`, the last message (or an empty one) carries the end marker. */
  private flush(end?: string): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    const all = Buffer.concat(this.pending);
    this.pending = [];
    this.pendingBytes = 0;
    for (let i = 0; i < all.length; i += MAX_CHUNK) this.publish(all.subarray(i, i + MAX_CHUNK), i + MAX_CHUNK >= all.length ? end : undefined);
    if (end && all.length === 0) this.publish(new Uint8Array(), end);
  }

  /** Flush with the end of the live stream marked on the last chunk (one message fewer per build), close the file; returns the digest and tail. */
  async finish(outcome: 'succeeded' | 'failed'): Promise<LogSummary> {
    this.flush(outcome);
    await new Promise<void>((resolve, reject) => this.file.end((err?: Error | null) => (err ? reject(err) : resolve())));
    if (this.fileError) throw this.fileError;
    const whole = this.tailBuf.length === this.size ? { bytes: this.tailBuf } : {};
    return { path: this.path, sha256: this.hash.digest('hex'), size: this.size, tailText: this.tailBuf.toString('utf8'), ...whole };
  }

  /** Close the file without publishing the end marker (the job is abandoned). */
  async abandon(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.file.destroyed) return;
    await new Promise<void>((resolve) => this.file.end(() => resolve()));
  }
}
