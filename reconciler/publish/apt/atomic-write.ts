// Writes that a reader never sees half-done: a temp file in the same directory,
// then rename(2) over the target. Files 0644 and directories 0755, because apt
// reads as the unprivileged `_apt` user. No fsync: this protects against a
// killed process (Kiln's crash model), not against power loss.
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export const TEMP_MARK = '.tmp-';

// pid + a per-process counter is unique: one writer per repository holds the lock,
// and a random part would cost more CPU than it buys (thousands per publish).
let tempSeq = 0;
const run = randomBytes(3).toString('hex'); // distinguishes reused pids across restarts

export function tempNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}${TEMP_MARK}${process.pid}-${run}-${++tempSeq}`);
}

export function isTempName(name: string): boolean {
  return name.startsWith('.') && name.includes(TEMP_MARK);
}

// Under the usual umask (022) modes are already 0644/0755: skip the chmods.
const UMASK_NARROWS = (0o755 & ~process.umask()) !== 0o755;

// Directories this process already made: a 5,000-file publish would
// otherwise spend most of its time in mkdir(recursive).
const made = new Set<string>();

export async function ensureDir(dir: string): Promise<void> {
  if (made.has(dir)) return;
  const first = await mkdir(dir, { recursive: true, mode: 0o755 });
  if (first && UMASK_NARROWS) {
    // A strict umask made them 0700: apt's _apt user could not enter them.
    for (let d = dir; d.length >= first.length; d = dirname(d)) await chmod(d, 0o755);
  }
  if (made.size > 100_000) made.clear();
  made.add(dir);
}

/** Forget the directories made under `root`: it may have been removed behind our back (a lost repository). */
export function forgetDirsUnder(root: string): void {
  for (const d of made) if (d === root || d.startsWith(root + '/')) made.delete(d);
}

/** mkdir even if this process made `dir` before (it may have been removed since). */
export async function remakeDir(dir: string): Promise<void> {
  made.delete(dir);
  await ensureDir(dir);
}


export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const dir = dirname(path);
  await ensureDir(dir);
  const tmp = tempNameFor(path);
  try {
    await writeFile(tmp, data, { mode: 0o644 }).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
      // The directory went away since we made it (prune removes empty pool dirs): make it again.
      await remakeDir(dir);
      await writeFile(tmp, data, { mode: 0o644 });
    });
    if (UMASK_NARROWS) await chmod(tmp, 0o644);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

// Synchronous twins, for the pool: thousands of small files go in faster with
// direct syscalls than through libuv's thread pool (measured in
// scripts/bench-publish); callers yield to the event loop every few ms.

/** mkdir -p; true when `dir` itself was created just now (so nothing can be in it yet). */
export function ensureDirSync(dir: string): boolean {
  if (made.has(dir)) return false;
  const first = mkdirSync(dir, { recursive: true, mode: 0o755 });
  if (first && UMASK_NARROWS) for (let d = dir; d.length >= first.length; d = dirname(d)) chmodSync(d, 0o755);
  if (made.size > 100_000) made.clear();
  made.add(dir);
  return first !== undefined;
}

export function remakeDirSync(dir: string): void {
  made.delete(dir);
  ensureDirSync(dir);
}

export function writeFileAtomicSync(path: string, data: Uint8Array): void {
  const dir = dirname(path);
  ensureDirSync(dir);
  const tmp = tempNameFor(path);
  try {
    try {
      writeFileSync(tmp, data, { mode: 0o644 });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      remakeDirSync(dir); // removed since we made it (prune removes empty pool dirs)
      writeFileSync(tmp, data, { mode: 0o644 });
    }
    if (UMASK_NARROWS) chmodSync(tmp, 0o644);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
