// Detached signatures of build artifacts (signatures/<sha256>.asc on the status
// branch). Each file is read ONCE, hashed and signed from the same bytes, so
// the signature always covers exactly the bytes whose digest was checked
// (bytes already in memory, read once by the collect step, are hashed again here).
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DigestMismatchError } from '../../schema/errors.ts';
import { STATUS_LAYOUT } from '../../schema/status.ts';
import type { Signer } from '../signing/signer.ts';

/** An artifact's claimed digest and its bytes: a local copy (path), or bytes already in memory. */
export type ArtifactToSign = { sha256: string; path: string } | { sha256: string; bytes: Uint8Array };

/** STATUS_LAYOUT.signature(sha256) -> armored detached signature. Throws DigestMismatchError before signing anything wrong. */
export async function signArtifacts(signer: Pick<Signer, 'signDetached'>, artifacts: ArtifactToSign[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const a of artifacts) {
    const path = STATUS_LAYOUT.signature(a.sha256);
    if (out.has(path)) continue;
    const bytes = 'bytes' in a ? a.bytes : await readFile(a.path);
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== a.sha256) {
      const where = 'path' in a ? a.path : 'bytes in memory';
      throw new DigestMismatchError(`${where}: sha256 is ${actual}, expected ${a.sha256}; not signing it`, { path: where, expected: a.sha256, actual });
    }
    out.set(path, await signer.signDetached(bytes));
  }
  return out;
}
