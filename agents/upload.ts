// Artifacts and logs into the Object Store. Artifacts are content-addressed
// (OBJECTS.artifact(sha256)): a one-chunk artifact is put with two publishes and no
// lookup (putting it again replaces it with the same bytes: object-put.ts); a bigger
// one already there with the same digest is not uploaded again. A file up to
// IN_MEMORY_MAX is read once (hashed and put from the same bytes); bigger ones are
// streamed, twice (hash, then put).
import { createHash } from 'node:crypto';
import { createReadStream, readFile as readFileCallback, stat as statCallback } from 'node:fs';
import { promisify } from 'node:util';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import type { ObjectStore } from '@nats-io/obj';
import { OBJECTS } from '../schema/nats.ts';
import { createSmallObject, nameChunk, putArtifactObject } from './object-put.ts';

export interface UploadedArtifact {
  name: string;
  sha256: string;
  size: number;
}

export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const h = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    h.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: h.digest('hex'), size };
}

/** The Object Store's digest header ('SHA-256=' + base64url) as hex, or undefined. */
export function objectDigestHex(digest: string | undefined): string | undefined {
  if (!digest?.startsWith('SHA-256=')) return undefined;
  return Buffer.from(digest.slice(8).replace(/-/g, '+').replace(/_/g, '/'), 'base64').toString('hex');
}

// The callback API on plain fds: fs/promises makes a FileHandle per file (measurable per job).
const readFile = promisify(readFileCallback);
const stat = promisify(statCallback);

/** Files up to this size are read into memory once; bigger ones are streamed. */
const IN_MEMORY_MAX = 8 * 1024 * 1024;

/** A file's content for a put: its bytes (small files) or its path (streamed). */
type Content = Uint8Array | string;

async function putContent(os: ObjectStore, name: string, content: Content, description?: string): Promise<void> {
  if (typeof content !== 'string') {
    await os.putBlob({ name, description }, content);
    return;
  }
  const rs = Readable.toWeb(createReadStream(content)) as unknown as ReadableStream<Uint8Array>;
  await os.put({ name, description }, rs);
}

/** Upload one file (a path, or its bytes) under `name` unless an object with the same digest is already there. */
export async function putIfAbsent(os: ObjectStore, name: string, content: Content, sha256: string, description?: string): Promise<'uploaded' | 'present'> {
  const info = await os.info(name);
  if (info && !info.deleted && objectDigestHex(info.digest) === sha256) return 'present';
  await putContent(os, name, content, description);
  return 'uploaded';
}

/** The file's bytes when small enough to hold, else its path. */
async function contentOf(path: string): Promise<Content> {
  return (await stat(path)).size <= IN_MEMORY_MAX ? readFile(path) : path;
}

async function uploadArtifact(os: ObjectStore, path: string): Promise<UploadedArtifact> {
  const content = await contentOf(path);
  const { sha256, size } = typeof content === 'string' ? await sha256File(content) : { sha256: createHash('sha256').update(content).digest('hex'), size: content.length };
  if (typeof content === 'string' || !(await putArtifactObject(os, content, sha256, basename(path)))) await putIfAbsent(os, OBJECTS.artifact(sha256), content, sha256, basename(path));
  return { name: basename(path), sha256, size };
}

/** Upload every artifact content-addressed (concurrently); returns what the BuildResult lists, sorted by path. */
export async function uploadArtifacts(os: ObjectStore, paths: string[]): Promise<UploadedArtifact[]> {
  return Promise.all([...paths].sort().map((p) => uploadArtifact(os, p)));
}

/**
 * Store a build log (its bytes when held, else its file) under OBJECTS.log(key, attempt). If that name is taken (an
 * earlier delivery of the same job got this far and its result may already be
 * recorded), the log goes under a delivery-suffixed name instead, so a recorded
 * result's log is never overwritten. Returns the object name used.
 */
export async function uploadLog(os: ObjectStore, key: string, attempt: number, delivery: number, log: { path: string; sha256: string; bytes?: Uint8Array }): Promise<string> {
  const { sha256 } = log;
  const name = OBJECTS.log(key, attempt);
  const content = log.bytes ?? (await contentOf(log.path));
  // Usually the name is free: then one put that expects it free, and no lookup.
  const created = typeof content === 'string' ? false : await createSmallObject(os, name, content, sha256);
  if (created === 'created') return name;
  // Taken (the bytes may be stored already, as a chunk no object names yet), or not a one-chunk log.
  const putAs = (as: string) => (created ? nameChunk(os, as, created) : putContent(os, as, content));
  const info = await os.info(name);
  if (info && !info.deleted) {
    // The same log again (the chunk just stored stays unnamed: agents may not purge; it is rare, as each delivery's log names its delivery).
    if (objectDigestHex(info.digest) === sha256) return name;
    const alt = `${name}.delivery-${delivery}`;
    await putAs(alt);
    return alt;
  }
  await putAs(name);
  return name;
}
