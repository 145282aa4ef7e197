// A git object's id: sha1 of "<type> <size>\0<content>".
import { createHash } from 'node:crypto';

export type ObjectType = 'blob' | 'tree' | 'commit';

/** The object's id and its bytes as stored (header + content). */
export function hashObject(type: ObjectType, content: Uint8Array): { oid: string; wrapped: Buffer } {
  const wrapped = Buffer.concat([Buffer.from(`${type} ${content.length}\0`), content]);
  return { oid: createHash('sha1').update(wrapped).digest('hex'), wrapped };
}
