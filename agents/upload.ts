// Artifacts and logs into the Object Store. Artifacts are content-addressed
// (OBJECTS.artifact(sha256)): an object already there with the same digest is
// not uploaded again.
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { Readable } from 'node:stream';
import type { ObjectStore } from '@nats-io/obj';
import { OBJECTS } from '../schema/nats.ts';

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

async function putFile(os: ObjectStore, name: string, path: string, description?: string): Promise<void> {
  const rs = Readable.toWeb(createReadStream(path)) as unknown as ReadableStream<Uint8Array>;
  await os.put({ name, description }, rs);
}

/** Upload one file under `name` unless an object with the same digest is already there. */
export async function putIfAbsent(os: ObjectStore, name: string, path: string, sha256: string, description?: string): Promise<'uploaded' | 'present'> {
  const info = await os.info(name);
  if (info && !info.deleted && objectDigestHex(info.digest) === sha256) return 'present';
  await putFile(os, name, path, description);
  return 'uploaded';
}

/** Upload every artifact content-addressed; returns what the BuildResult lists. */
export async function uploadArtifacts(os: ObjectStore, paths: string[]): Promise<UploadedArtifact[]> {
  const out: UploadedArtifact[] = [];
  for (const p of [...paths].sort()) {
    const { sha256, size } = await sha256File(p);
    await putIfAbsent(os, OBJECTS.artifact(sha256), p, sha256, basename(p));
    out.push({ name: basename(p), sha256, size });
  }
  return out;
}

/**
 * Store a build log under OBJECTS.log(key, attempt). If that name is taken (an
 * earlier delivery of the same job got this far and its result may already be
 * recorded), the log goes under a delivery-suffixed name instead, so a recorded
 * result's log is never overwritten. Returns the object name used.
 */
export async function uploadLog(os: ObjectStore, key: string, attempt: number, delivery: number, path: string, sha256: string): Promise<string> {
  const name = OBJECTS.log(key, attempt);
  const info = await os.info(name);
  if (info && !info.deleted) {
    if (objectDigestHex(info.digest) === sha256) return name;
    const alt = `${name}.delivery-${delivery}`;
    await putFile(os, alt, path);
    return alt;
  }
  await putFile(os, name, path);
  return name;
}
