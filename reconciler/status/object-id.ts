// A git object's id: sha1 of "<type> <size>\0<content>".
import { hash } from 'node:crypto';

export type ObjectType = 'blob' | 'tree' | 'commit';

/** The object's id and its bytes as stored (header + content). */
export function hashObject(type: ObjectType, content: Uint8Array): { oid: string; wrapped: Buffer } {
  const wrapped = Buffer.concat([Buffer.from(`${type} ${content.length}\0`), content]);
  // One-shot hash: a Hash object per record costs more than hashing its few hundred bytes.
  return { oid: hash('sha1', wrapped, 'hex'), wrapped };
}
