// A ref's value kept in memory and re-read only when git may have moved it:
// inotify (fs.watch) on the ref's directory and on the gitdir (packed-refs).
// The HTTP service reads kiln/status on every request; four syscalls a request
// were a measurable share of its cost under load (scripts/bench-api).
// Without a working watch (directory missing, watcher error) every read goes
// to disk, so the answer is never older than `maxAgeMs`.
import { watch, type FSWatcher } from 'node:fs';
import { dirname, join } from 'node:path';
import { readRef } from './ref-cas.ts';

export class RefWatch {
  private watchers: FSWatcher[] = [];
  private value: Promise<string | null> | undefined;
  private at = 0;
  private closed = false;

  constructor(
    private readonly gitdir: string,
    private readonly ref: string,
    /** A safety net: re-read at least this often even with no event. */
    private readonly maxAgeMs = 1000,
  ) {}

  /** The ref's commit id now (null: no such ref). */
  read(): Promise<string | null> {
    if (this.value && this.watchers.length > 0 && Date.now() - this.at < this.maxAgeMs) return this.value;
    if (this.watchers.length === 0) this.startWatching();
    this.at = Date.now();
    const value = readRef(this.gitdir, this.ref);
    this.value = value;
    value.catch(() => this.value === value && this.invalidate());
    return value;
  }

  /** Forget the cached value (a writer in this process just moved the ref). */
  invalidate(): void {
    this.value = undefined;
  }

  close(): void {
    this.closed = true;
    this.stopWatching();
  }

  private startWatching(): void {
    if (this.closed) return;
    try {
      // The ref is replaced by rename(2) from <ref>.lock: watch its directory, not the file.
      for (const dir of new Set([dirname(join(this.gitdir, this.ref)), this.gitdir])) {
        const w = watch(dir, { persistent: false }, () => this.invalidate());
        w.on('error', () => this.stopWatching());
        this.watchers.push(w);
      }
    } catch {
      this.stopWatching(); // e.g. no refs/heads/kiln/ yet: read from disk until it exists
    }
  }

  private stopWatching(): void {
    for (const w of this.watchers) w.close();
    this.watchers = [];
    this.invalidate();
  }
}
