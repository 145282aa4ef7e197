// Compare-and-set of a branch ref with git's own lock protocol, so native git
// and every Kiln process serialise on the same lock file:
//   create <ref>.lock with O_EXCL -> compare the current value -> write the new
//   value into the lock -> rename the lock over the ref.
// isomorphic-git's writeRef overwrites blindly, which would lose a concurrent update.
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
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

/**
 * Move `ref` from `expected` (null: must not exist) to `next`, or throw:
 * StatusConflictError when it holds something else, RefLockedError when its
 * lock is held. The lock is always removed unless the rename consumed it.
 */
export async function compareAndSwapRef(gitdir: string, ref: string, expected: string | null, next: string): Promise<void> {
  if (!OID.test(next)) throw new TypeError(`not a commit id: ${next}`);
  const path = join(gitdir, ref);
  const lock = `${path}.lock`;
  await mkdir(dirname(path), { recursive: true });
  let fh;
  try {
    fh = await open(lock, 'wx', 0o644);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') {
      throw new RefLockedError(`${lock} exists: another writer holds it (if no git or Kiln process is running, remove it)`, { lock });
    }
    throw e;
  }
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
    await rename(lock, path);
    renamed = true;
  } finally {
    if (fh) await fh.close().catch(() => undefined);
    if (!renamed) await rm(lock, { force: true });
  }
}
