// Compare-and-set of a branch ref with git's own lock protocol, so native git
// and every Kiln process serialise on the same lock file:
//   create <ref>.lock with O_EXCL -> compare the current value -> write the new
//   value into the lock -> rename the lock over the ref.
// isomorphic-git's writeRef overwrites blindly, which would lose a concurrent update.
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { RefLockedError, StatusConflictError } from '../../schema/errors.ts';

const OID = /^[0-9a-f]{40}$/;

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return undefined;
    throw e;
  }
}

/** The value of `ref` in packed-refs, if it is there. */
function packedValue(packed: string, ref: string): string | undefined {
  for (const line of packed.split('\n')) {
    if (!line || line.startsWith('#') || line.startsWith('^')) continue;
    const sp = line.indexOf(' ');
    if (line.slice(sp + 1) === ref) return line.slice(0, sp);
  }
  return undefined;
}

/** The commit a full ref name (refs/heads/...) points at, or null; a loose ref wins over packed-refs. */
export async function readRef(gitdir: string, ref: string): Promise<string | null> {
  const loose = await readText(join(gitdir, ref));
  if (loose !== undefined) {
    const v = loose.trim();
    if (!OID.test(v)) throw new StatusConflictError(`${ref} is not a plain commit id ('${v.slice(0, 60)}')`, { ref });
    return v;
  }
  const packed = await readText(join(gitdir, 'packed-refs'));
  return (packed && packedValue(packed, ref)) || null;
}

export interface CasOptions {
  /**
   * A lock older than this is left by a killed writer and is broken (default 30 s).
   * Holders keep it for a few milliseconds; git itself never breaks locks, but a
   * reconciler that may be killed at any instant must not stall on its own leftovers.
   */
  staleLockMs?: number;
  onStaleLock?: (lock: string, ageMs: number) => void;
}

export const STALE_LOCK_MS = 30_000;

/** Move a stale lock aside and delete it; true when the lock is gone (by us or anyone), false when it is live. */
async function breakIfStale(lock: string, staleMs: number, onStale?: CasOptions['onStaleLock']): Promise<boolean> {
  let age: number;
  try {
    age = Date.now() - (await stat(lock)).mtimeMs;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
  if (age < staleMs) return false;
  // rename is atomic: of several breakers only one moves it. Should a fresh lock
  // have replaced the stale one meanwhile, its holder sees that (inode check) and retries.
  const aside = `${lock}.stale-${randomBytes(6).toString('hex')}`;
  try {
    await rename(lock, aside);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return true;
    throw e;
  }
  await rm(aside, { force: true });
  onStale?.(lock, age);
  return true;
}

async function inodeOf(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).ino;
  } catch {
    return undefined;
  }
}

/**
 * Move `ref` from `expected` (null: must not exist) to `next`, or throw:
 * StatusConflictError when it holds something else (or our lock was broken),
 * RefLockedError when a live writer holds the lock. Our lock is always removed
 * unless the rename consumed it; a lock that is not ours is never touched.
 */
export async function compareAndSwapRef(gitdir: string, ref: string, expected: string | null, next: string, opts: CasOptions = {}): Promise<void> {
  if (!OID.test(next)) throw new TypeError(`not a commit id: ${next}`);
  const path = join(gitdir, ref);
  const lock = `${path}.lock`;
  await mkdir(dirname(path), { recursive: true });
  let fh;
  for (let tries = 0; !fh; tries++) {
    try {
      fh = await open(lock, 'wx', 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      if (tries > 0 || !(await breakIfStale(lock, opts.staleLockMs ?? STALE_LOCK_MS, opts.onStaleLock))) {
        throw new RefLockedError(`${lock} exists: another writer holds it (if no git or Kiln process is running, remove it)`, { lock });
      }
    }
  }
  const mine = (await fh.stat()).ino;
  const stillMine = async () => (await inodeOf(lock)) === mine;
  let renamed = false;
  try {
    const current = await readRef(gitdir, ref);
    if (current !== expected) {
      throw new StatusConflictError(`${ref} moved: expected ${expected ?? 'no branch'}, found ${current ?? 'no branch'}`, { ref, expected, current });
    }
    await fh.writeFile(`${next}\n`);
    await fh.sync();
    await fh.close();
    fh = undefined;
    if (!(await stillMine())) throw new StatusConflictError(`${lock} was broken by another writer while we held it`, { ref, lock });
    await rename(lock, path);
    renamed = true;
  } finally {
    if (fh) await fh.close().catch(() => undefined);
    if (!renamed && (await stillMine())) await rm(lock, { force: true });
  }
}
