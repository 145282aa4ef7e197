import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';

export interface Digests {
  size: number;
  sha256: string;
  md5: string;
}

export function digests(data: Buffer | string): Digests {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  return { size: buf.length, sha256: createHash('sha256').update(buf).digest('hex'), md5: createHash('md5').update(buf).digest('hex') };
}

export const sha256Hex = (data: Uint8Array | string) => createHash('sha256').update(data).digest('hex');

/** sha256 and size of a file, streamed (rpms can be large). */
export async function sha256File(path: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path)) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}
