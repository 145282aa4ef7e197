// Detached signatures of build artifacts (signatures/<sha256>.asc on the status
// branch). Each file is read ONCE, hashed and signed from the same bytes, so
// the signature always covers exactly the bytes whose digest was checked
// (bytes already in memory, read once by the collect step, are hashed again here).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DigestMismatchError } from '../../schema/errors.ts';
import { STATUS_LAYOUT } from '../../schema/status.ts';
import type { Signer } from '../signing/signer.ts';
import pMap from 'p-map';

/** An artifact's claimed digest and its bytes: a local copy (path), or bytes already in memory. */
export type ArtifactToSign = { sha256: string; path: string } | { sha256: string; bytes: Uint8Array };

/** Signatures of one call in flight at once (an artifact read from disk is held meanwhile). */
const SIGN_CONCURRENCY = 4;

/**
 * STATUS_LAYOUT.signature(sha256) -> armored detached signature. Throws DigestMismatchError
 * before signing anything wrong. The signatures are made concurrently (the signer's worker
 * queues them), each only after its own bytes hashed to the claimed digest.
 */
export async function signArtifacts(signer: Pick<Signer, 'signDetached'>, artifacts: ArtifactToSign[]): Promise<Map<string, string>> {
  const byPath = new Map<string, ArtifactToSign>();
  for (const a of artifacts) if (!byPath.has(STATUS_LAYOUT.signature(a.sha256))) byPath.set(STATUS_LAYOUT.signature(a.sha256), a);
  const signOne = async ([path, a]: [string, ArtifactToSign]): Promise<[string, string]> => {
    const bytes = 'bytes' in a ? a.bytes : await readFile(a.path);
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== a.sha256) {
      const where = 'path' in a ? a.path : 'bytes in memory';
      throw new DigestMismatchError(`${where}: sha256 is ${actual}, expected ${a.sha256}; not signing it`, { path: where, expected: a.sha256, actual });
    }
    return [path, await signer.signDetached(bytes)];
  };
  return new Map(await pMap(byPath, signOne, { concurrency: SIGN_CONCURRENCY }));
}
