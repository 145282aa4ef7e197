// Which published apt repositories (ROOT/<dist>/dists/<suite>/InRelease) are
// signed by a given key: those are the ones a key renewal must re-sign.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';

export interface RepoSignature {
  distribution: string;
  /** Whether every suite's InRelease is signed by the key. */
  signedByKey: boolean;
  /** Why it was not matched (no InRelease, other key, unreadable). */
  note?: string;
}

export async function reposSignedBy(root: string, publicKeyArmored: string): Promise<RepoSignature[]> {
  const key = await openpgp.readKey({ armoredKey: publicKeyArmored });
  const out: RepoSignature[] = [];
  const dists = await readdir(root, { withFileTypes: true });
  for (const d of dists.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort()) {
    // Not an apt repository (no dists/): another release target's.
    const suites = await readdir(join(root, d, 'dists')).catch(() => undefined);
    if (!suites) continue;
    const issuers: string[] = [];
    for (const suite of suites) {
      const text = await readFile(join(root, d, 'dists', suite, 'InRelease'), 'utf8').catch(() => undefined);
      if (text === undefined) continue;
      issuers.push(await issuerOf(text, key));
    }
    if (issuers.length === 0) out.push({ distribution: d, signedByKey: false, note: 'no published InRelease' });
    else if (issuers.every((i) => i === 'key')) out.push({ distribution: d, signedByKey: true });
    else out.push({ distribution: d, signedByKey: false, note: `signed by ${issuers.filter((i) => i !== 'key').join(', ')}` });
  }
  return out;
}

/** 'key' when signed by `key`, otherwise the issuer key id (or why it is unreadable). */
async function issuerOf(inRelease: string, key: openpgp.Key): Promise<string> {
  try {
    const msg = await openpgp.readCleartextMessage({ cleartextMessage: inRelease });
    const ids = msg.getSigningKeyIDs();
    return ids.some((id) => key.getKeys(id).length > 0) ? 'key' : (ids[0]?.toHex().toUpperCase() ?? 'no issuer');
  } catch (e) {
    return `unreadable InRelease (${(e as Error).message})`;
  }
}
