// A local, content-addressed cache of artifacts from the object store, for the
// publisher: a file appears under its digest only after its bytes hashed to it.
import { createHash } from 'node:crypto';
import { writeFile as writeFileCallback } from 'node:fs';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { promisify } from 'node:util';
import { join } from 'node:path';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import { ArtifactMissingError, DigestMismatchError } from '../../schema/errors.ts';
import { OBJECTS } from '../../schema/nats.ts';
import { cacheTempPath, cachedArtifactPath } from './cache-path.js';
import { readArtifactChunks } from './object-read.ts';

export { cachedArtifactPath };

const SHA256 = /^[0-9a-f]{64}$/;

async function exists(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Path of the artifact with this digest in `cacheDir`, downloading it first if
 * needed. Written to a temp file, hashed on the way, renamed into place only if
 * the digest matches (so a crash or a bad object never leaves a wrong file).
 */
export async function fetchArtifact(objectStore: ObjectStore, sha256: string, cacheDir: string, opts: { jsm?: JetStreamManager } = {}): Promise<string> {
  if (!SHA256.test(sha256)) throw new TypeError(`not a sha256 digest: '${sha256}'`);
  const dest = cachedArtifactPath(cacheDir, sha256);
  if (await exists(dest)) return dest;
  const chunks = await readArtifactChunks(objectStore, sha256, opts.jsm);
  if (!chunks) throw new ArtifactMissingError(`artifact sha256 ${sha256} is not in the object store`, { sha256 });
  await mkdir(join(cacheDir, sha256.slice(0, 2)), { recursive: true });
  const tmp = cacheTempPath(dest);
  const hash = createHash('sha256');
  const fh = await open(tmp, 'w');
  try {
    for await (const chunk of chunks) {
      hash.update(chunk);
      await fh.write(chunk);
    }
    // No fsync: like the rest of Kiln this guards against a killed process, not power loss,
    // and a lost cache entry is simply fetched again (the digest is checked every time).
  } catch (e) {
    await fh.close();
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  const got = hash.digest('hex');
  if (got !== sha256) {
    await rm(tmp, { force: true });
    throw new DigestMismatchError(`artifact sha256 ${sha256}: the object store returned bytes hashing to ${got}`, { sha256, got });
  }
  await rename(tmp, dest);
  return dest;
}

// The callback API on a plain fd: fs/promises makes a FileHandle per file, which cost the
// pass ~0.3 ms per artifact (profile of scripts/bench-dispatch).
const writeFile = promisify(writeFileCallback);

/** Fan-out directories this process made or is making (a cache write then needs no mkdir; writes arriving together share one). */
const knownDirs = new Map<string, Promise<unknown>>();

function madeDir(dir: string): Promise<unknown> {
  let made = knownDirs.get(dir);
  if (!made) {
    made = mkdir(dir, { recursive: true });
    knownDirs.set(dir, made);
    // A failed mkdir is tried again by the next write.
    made.catch(() => knownDirs.delete(dir));
  }
  return made;
}

/**
 * Put bytes whose sha256 the caller has just checked under that digest: a temp
 * file renamed into place, so a killed process never leaves a torn entry.
 */
export async function storeVerified(cacheDir: string, sha256: string, bytes: Uint8Array): Promise<void> {
  if (!SHA256.test(sha256)) throw new TypeError(`not a sha256 digest: '${sha256}'`);
  const dir = join(cacheDir, sha256.slice(0, 2));
  const dest = join(dir, sha256);
  const tmp = cacheTempPath(dest);
  try {
    await madeDir(dir);
    try {
      await writeFile(tmp, bytes);
    } catch (e) {
      // The directory was removed behind our back (a cleaned cache): make it again once.
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
      await mkdir(dir, { recursive: true });
      await writeFile(tmp, bytes);
    }
    await rename(tmp, dest);
  } catch (e) {
    // The write's error is the one to report: removing the temp file may fail the same way (ENOTDIR).
    await rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
}
