// The reconciler's public key is kept in the metadata repo (kiln.yaml
// signing.publicKey): users take it from there to trust the published
// repositories. A reconciler holding another key must not sign anything.
// These are problems of the metadata at this commit (terminal), not of the host.
import * as openpgp from 'openpgp';
import { SigningError } from '../../schema/errors.ts';
import { listFiles, readBlobText, type GitCache } from '../git/tree.ts';

export async function checkReleaseKey(opts: { dir: string; commit: string; cache: GitCache; path: string; fingerprint: string }): Promise<void> {
  const [file] = await listFiles(opts.dir, opts.commit, opts.cache, { prefixes: [opts.path] });
  if (!file) throw new SigningError(`kiln.yaml signing.publicKey: ${opts.path} is not in the metadata repo at ${opts.commit.slice(0, 12)}`, { path: opts.path }, { kind: 'terminal' });
  let declared: string;
  try {
    declared = (await openpgp.readKey({ armoredKey: await readBlobText(opts.dir, file.oid, opts.cache) })).getFingerprint().toUpperCase();
  } catch (cause) {
    throw new SigningError(`${opts.path}: not an armored OpenPGP public key`, { path: opts.path }, { cause, kind: 'terminal' });
  }
  if (declared !== opts.fingerprint) {
    throw new SigningError(
      `the reconciler signs with ${opts.fingerprint}, but kiln.yaml declares ${opts.path} (${declared}) as the release key: ` +
        'start the reconciler with that key, or commit its public key to the metadata repo',
      { declared, actual: opts.fingerprint, path: opts.path },
      { kind: 'terminal' },
    );
  }
}
