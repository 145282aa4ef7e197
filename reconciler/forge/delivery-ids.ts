// Webhook delivery ids already acted on, so a replayed delivery is answered but
// not acted on again — across restarts too: the ids live in the reconciler's
// state dir (<gitdir>/kiln/forge/webhook-deliveries), one JSON string a line,
// appended and flushed once a delivery was handled. Bounded: the newest `max`
// ids are kept; the file is rewritten (temp, fsync, rename) when it holds twice that.
import { mkdir, open, readFile, rename, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

export const DELIVERY_IDS_KEPT = 10_000;

export class DeliveryIds {
  /** Insertion-ordered: the first is the oldest. */
  private readonly seen = new Set<string>();
  private file?: FileHandle;
  private lines = 0;
  /** Writes one at a time: deliveries are handled concurrently, and a compaction swaps the file. */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    private readonly path: string | undefined,
    private readonly max: number,
  ) {}

  /** Ids kept in `path` (created when missing); without a path, in memory only. */
  static async open(path: string | undefined, max = DELIVERY_IDS_KEPT): Promise<DeliveryIds> {
    const ids = new DeliveryIds(path, max);
    if (path === undefined) return ids;
    await mkdir(dirname(path), { recursive: true });
    let text = '';
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    for (const line of text.split('\n')) {
      // A torn last line (killed mid-write) is skipped: that delivery had not been fully handled.
      try {
        const id: unknown = JSON.parse(line);
        if (typeof id === 'string') ids.keep(id);
      } catch {
        continue;
      }
      ids.lines++;
    }
    ids.file = await open(path, 'a');
    if (ids.lines > 2 * max) await ids.compact();
    return ids;
  }

  has(id: string): boolean {
    return this.seen.has(id);
  }

  /** Remember a handled delivery; durable when this resolves. */
  async add(id: string): Promise<void> {
    if (this.seen.has(id)) return;
    this.keep(id);
    if (!this.path) return;
    const write = this.writing.then(async () => {
      // A leading newline ends a torn line a killed writer may have left.
      await this.file!.write(`\n${JSON.stringify(id)}`);
      await this.file!.datasync();
      if (++this.lines > 2 * this.max) await this.compact();
    });
    this.writing = write.catch(() => undefined);
    await write;
  }

  async close(): Promise<void> {
    await this.writing;
    await this.file?.close();
    this.file = undefined;
  }

  private keep(id: string): void {
    this.seen.delete(id);
    this.seen.add(id);
    if (this.seen.size > this.max) this.seen.delete(this.seen.values().next().value!);
  }

  /** Rewrite the file with only the ids kept. */
  private async compact(): Promise<void> {
    const path = this.path!;
    const tmp = `${path}.${process.pid}.tmp`;
    const f = await open(tmp, 'w');
    try {
      await f.writeFile([...this.seen].map((id) => JSON.stringify(id)).join('\n'));
      await f.sync();
    } finally {
      await f.close();
    }
    await rename(tmp, path);
    await this.file?.close();
    this.file = await open(path, 'a');
    this.lines = this.seen.size;
  }
}
