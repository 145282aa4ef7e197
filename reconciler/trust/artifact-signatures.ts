// Detached signatures of build artifacts (signatures/<sha256>.asc on the status
// branch). Each file is read ONCE, hashed and signed from the same bytes, so
// the signature always covers exactly the bytes whose digest was checked.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { DigestMismatchError } from '../../schema/errors.ts';
import { STATUS_LAYOUT } from '../../schema/status.ts';
import type { Signer } from '../signing/signer.ts';

export interface ArtifactToSign {
  sha256: string;
  /** A local copy of the artifact. */
  path: string;
}

/** STATUS_LAYOUT.signature(sha256) -> armored detached signature. Throws DigestMismatchError before signing anything wrong. */
export async function signArtifacts(signer: Pick<Signer, 'signDetached'>, artifacts: ArtifactToSign[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const a of artifacts) {
    const path = STATUS_LAYOUT.signature(a.sha256);
    if (out.has(path)) continue;
    const bytes = await readFile(a.path);
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== a.sha256) {
      throw new DigestMismatchError(`${a.path}: sha256 is ${actual}, expected ${a.sha256}; not signing it`, { path: a.path, expected: a.sha256, actual });
    }
    out.set(path, await signer.signDetached(bytes));
  }
  return out;
}
