// Writing git objects (blobs, trees, commits) as loose objects, the way git
// does: deflate, write to a temp file, rename into place. isomorphic-git's
// writers write the final path directly, so a process killed mid-write leaves
// a torn object that every later write of the same content skips ("exists");
// they are also ~10x slower (TOOLCHAIN). Reading stays with isomorphic-git.
import { randomBytes } from 'node:crypto';
import { access, mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { hashObject, type ObjectType } from './object-id.ts';
import { writePack } from './pack-writer.ts';
import { zlibWrap } from './zlib-wrap.ts';
import pMap from 'p-map';


export { hashObject, type ObjectType } from './object-id.ts';

/** The .git directory of a work-tree repo, or `dir` itself for a bare repo. */
export async function gitdirOf(dir: string): Promise<string> {
  const dotgit = join(dir, '.git');
  try {
    if ((await stat(dotgit)).isDirectory()) return dotgit;
  } catch {
    // no .git: a bare repository
  }
  return dir;
}


async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** Write one loose object unless it is already there; returns its oid. Atomic: temp file + rename. */
export async function writeObject(gitdir: string, type: ObjectType, content: Uint8Array): Promise<string> {
  const { oid, wrapped } = hashObject(type, content);
  const dir = join(gitdir, 'objects', oid.slice(0, 2));
  const file = join(dir, oid.slice(2));
  // A packed copy would also do, but checking packs costs more than rewriting a loose one.
  if (await exists(file)) return oid;
  // Synchronous (small records are stored, not compressed: zlib-wrap.ts), cheaper than a thread-pool hop.
  const data = zlibWrap(wrapped);
  // git's own temp-file name, so a leftover from a killed writer is garbage git gc/prune knows.
  const tmp = join(dir, `tmp_obj_${randomBytes(6).toString('hex')}`);
  try {
    try {
      await writeFile(tmp, data, { mode: 0o444 });
    } catch (e) {
      // The fan-out directory is created on first use (and git gc may remove empty ones).
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      await mkdir(dir, { recursive: true });
      await writeFile(tmp, data, { mode: 0o444 });
    }
    await rename(tmp, file);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
  return oid;
}

/** From this many objects on, one packfile beats loose files (measured: scripts/bench-dispatch, scripts/bench-status). */
export const PACK_THRESHOLD = 256;

/** Write many objects (one pack from PACK_THRESHOLD on, else loose with bounded concurrency). Oids in input order. */
export async function writeObjects(gitdir: string, type: ObjectType, contents: Uint8Array[], concurrency = 16): Promise<string[]> {
  if (contents.length >= PACK_THRESHOLD) {
    return writePack(gitdir, contents.map((content) => ({ type, content })));
  }
  return pMap(contents, (c) => writeObject(gitdir, type, c), { concurrency });
}
