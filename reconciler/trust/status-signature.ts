// The status branch is believed only when signed by the reconciler's own key:
// otherwise anyone who can push to the metadata repo could forge build records,
// gate verdicts, or a Kiln-Desired trailer naming their own commit as the last
// trusted one (which would bypass the trust policy).
import { readFile } from 'node:fs/promises';
import type { Logger } from 'pino';
import { UntrustedStatusError } from '../../schema/errors.ts';
import type { ObservedState } from '../model.ts';
import { readObserved } from '../status/reader.ts';
import type { GitCache } from '../git/tree.ts';
import { readSignedCommit } from './commit-chain.ts';
import { checkCommitSignature } from './commit-signature.ts';
import { parsePublicKeyFile, type TrustedKey } from './public-keys.ts';

const parsed = new Map<string, Promise<TrustedKey>>();

function releaseKey(armored: string): Promise<TrustedKey> {
  let key = parsed.get(armored);
  if (!key) {
    key = parsePublicKeyFile('the release key', armored).then((r) => {
      if (!r.ok) throw new UntrustedStatusError(r.problem);
      return r.key;
    });
    parsed.set(armored, key);
  }
  return key;
}

/** Throws UntrustedStatusError unless `commit` is validly signed by the key `publicKeyArmored`. */
export async function assertStatusSigned(opts: { dir: string; cache: GitCache; commit: string; publicKeyArmored: string }): Promise<void> {
  const key = await releaseKey(opts.publicKeyArmored);
  const c = await readSignedCommit(opts.dir, opts.commit, opts.cache);
  const check = await checkCommitSignature(c.payload, c.gpgsig, [key]);
  if (check.status === 'valid') return;
  const why =
    check.status === 'unsigned' ? 'it is unsigned' : check.status === 'unknown-key' ? `it is signed by another key (${check.keyId})` : `its signature does not verify (${check.reason})`;
  throw new UntrustedStatusError(
    `kiln/status ${opts.commit.slice(0, 12)} was not written by this reconciler: ${why}, not by the release key ${key.fingerprint}. ` +
      'Its records cannot be believed: inspect it (git log --show-signature kiln/status) and reset the branch to the last commit Kiln signed.',
    { commit: opts.commit, releaseKey: key.fingerprint },
  );
}

/**
 * The observed state for a trust decision made outside the reconciler (kiln
 * verify, kiln plan): with the release key's public half, the status head must
 * be signed by it; without, the branch is taken on faith and the caller says so.
 */
export async function readObservedForTrust(opts: { dir: string; cache: GitCache; releaseKeyFile?: string; log?: Logger }): Promise<{ state: ObservedState; statusVerified: boolean }> {
  const { state, snapshot } = await readObserved({ dir: opts.dir, cache: opts.cache, log: opts.log });
  // No status branch yet: nothing to take on faith.
  if (!snapshot.commit) return { state, statusVerified: true };
  if (!opts.releaseKeyFile) return { state, statusVerified: false };
  await assertStatusSigned({ dir: opts.dir, cache: opts.cache, commit: snapshot.commit, publicKeyArmored: await readFile(opts.releaseKeyFile, 'utf8') });
  return { state, statusVerified: true };
}
