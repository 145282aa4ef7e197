// Which published dnf repositories (ROOT/<dist>/repodata/repomd.xml.asc) are
// signed by a given key: those are the ones a key renewal must re-sign. Only
// directories that are dnf repositories are reported.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as openpgp from 'openpgp';
import { REPOMD_SIG } from './layout.ts';

export interface DnfRepoSignature {
  distribution: string;
  signedByKey: boolean;
  note?: string;
}

export async function dnfReposSignedBy(root: string, publicKeyArmored: string): Promise<DnfRepoSignature[]> {
  const key = await openpgp.readKey({ armoredKey: publicKeyArmored });
  const out: DnfRepoSignature[] = [];
  const dirs = await readdir(root, { withFileTypes: true }).catch(() => []);
  for (const d of dirs.filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name).sort()) {
    const asc = await readFile(join(root, d, REPOMD_SIG), 'utf8').catch(() => undefined);
    if (asc === undefined) continue;
    try {
      const ids = (await openpgp.readSignature({ armoredSignature: asc })).getSigningKeyIDs();
      const mine = ids.some((id) => key.getKeys(id).length > 0);
      out.push(mine ? { distribution: d, signedByKey: true } : { distribution: d, signedByKey: false, note: `signed by ${ids[0]?.toHex().toUpperCase() ?? 'no issuer'}` });
    } catch (e) {
      out.push({ distribution: d, signedByKey: false, note: `unreadable ${REPOMD_SIG} (${(e as Error).message})` });
    }
  }
  return out;
}
