import { createHash } from 'node:crypto';

export interface Digests {
  size: number;
  sha256: string;
  md5: string;
}

export function digests(data: Buffer | string): Digests {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  return { size: buf.length, sha256: createHash('sha256').update(buf).digest('hex'), md5: createHash('md5').update(buf).digest('hex') };
}

export const sha256Hex = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');
