// One build's log: every chunk is hashed as it is written (so the full log can be
// stored with its digest) and, batched, goes to the live log subject so `kiln logs -f`
// can follow the build. Live lines are best effort; the whole log is the record: held in
// memory while it is small (most are: no file to open, write, close and remove per job),
// and in a file from the moment it outgrows IN_MEMORY_MAX.
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
/** A log is only in memory up to this size; past it, it goes to its file (which then holds all of it). */
const IN_MEMORY_MAX = TAIL_BYTES;
export const DEFAULT_MAX_LOG_BYTES = 64 * 1024 * 1024;

export interface LogSummary {
  /** The file holding the whole log; written only when `bytes` is absent (the log outgrew memory). */
  path: string;
  sha256: string;
  size: number;
  /** The end of the log (for logTail). */
  tailText: string;
  /** The whole log, when it is small enough to be all in the tail kept in memory (then delivery need not read the file). */
  bytes?: Buffer;
}

export class BuildLog {
  /** Opened once the log outgrows IN_MEMORY_MAX (until then tailBuf is the whole log). */
  private file: WriteStream | undefined;
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
  ) {}

  /** The file, opened (with what the log holds so far) the first time the log outgrows memory. */
  private spill(): WriteStream {
    if (this.file) return this.file;
    const file = createWriteStream(this.path);
    file.on('error', (e) => {
      this.fileError ??= e;
      this.log.error({ err: e, path: this.path }, 'cannot write the build log');
    });
    // Until now tailBuf was the whole log (it is trimmed only past 2 * TAIL_BYTES > IN_MEMORY_MAX).
    if (this.tailBuf.length) file.write(this.tailBuf);
    this.file = file;
    return file;
  }

  /** Append build output. Never throws: a broken live stream must not fail the build. */
  write(chunk: Buffer | string): void {
    let b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    if (b.length === 0 || this.truncated || this.fileError) return;
    if (this.size + b.length > this.maxBytes) {
      this.truncated = true;
      b = Buffer.concat([b.subarray(0, Math.max(0, this.maxBytes - this.size)), Buffer.from(`\nkiln: log truncated at ${this.maxBytes} bytes\n`)]);
    }
    this.hash.update(b);
    this.size += b.length;
    if (this.file) this.file.write(b);
    this.tailBuf = Buffer.concat([this.tailBuf, b]);
    if (!this.file && this.size > IN_MEMORY_MAX) this.spill();
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

  /** Flush with the end of the live stream marked on the last chunk (one message fewer per build), close the file if any; returns the digest and tail. */
  async finish(outcome: 'succeeded' | 'failed'): Promise<LogSummary> {
    this.flush(outcome);
    const file = this.file;
    if (file) await new Promise<void>((resolve, reject) => file.end((err?: Error | null) => (err ? reject(err) : resolve())));
    if (this.fileError) throw this.fileError;
    const whole = file ? {} : { bytes: this.tailBuf };
    return { path: this.path, sha256: this.hash.digest('hex'), size: this.size, tailText: this.tailBuf.toString('utf8'), ...whole };
  }

  /** Close the file (if one was opened) without publishing the end marker (the job is abandoned). */
  async abandon(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    const file = this.file;
    if (!file || file.destroyed) return;
    await new Promise<void>((resolve) => file.end(() => resolve()));
  }
}
