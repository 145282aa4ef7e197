// `kiln keys renew` for a dnf repository: every published rpm's header and
// repomd.xml signed again with the new key, the key file replaced; same
// packages. Each rpm is signed as a temp copy and renamed over the old one.
import { rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Signer } from '../../signing/signer.ts';
import { tempNameFor, writeFileAtomic } from '../apt/atomic-write.ts';
import { sha256File } from '../apt/hashes.ts';
import { withRepoLock } from '../apt/repo-lock.ts';
import { stageRepodata } from './createrepo.ts';
import { DNF_STATE_FILE, keyFileName, STAGE_DIR } from './layout.ts';
import { switchRepodata } from './publish.ts';
import { armoredHeaderSignature, signRpmCopies } from './sign-rpms.ts';
import { readRpms } from '../rpm/read-rpm.ts';
import { readDnfState } from './state.ts';

export async function resignDnf(root: string, dist: string, signer: Signer, now: Date): Promise<{ parts: string[] }> {
  const repoDir = join(root, dist);
  return withRepoLock(repoDir, async () => {
    const state = await readDnfState(repoDir);
    const files = Object.keys(state.files).filter((f) => !(f in state.retired)).sort();
    const temps = files.map((f) => ({ file: f, tmp: tempNameFor(join(repoDir, f)) }));
    try {
      // Only the bytes Kiln published are signed again: a file changed on disk refuses the renewal.
      await signRpmCopies(signer, temps.map((t) => ({ from: join(repoDir, t.file), to: t.tmp, expect: { name: t.file, sha256: state.files[t.file].sha256, size: state.files[t.file].size } })));
      const headers = await readRpms(temps.map((t) => ({ path: t.tmp, label: t.file })));
      for (const [i, t] of temps.entries()) {
        const { sha256, size } = await sha256File(t.tmp);
        const hex = headers[i].signatureHex;
        await rename(t.tmp, join(repoDir, t.file));
        const { signature: _old, ...rest } = state.files[t.file];
        state.files[t.file] = { ...rest, sha256, size, key: signer.fingerprint, ...(hex ? { signature: await armoredHeaderSignature(hex) } : {}) };
      }
    } finally {
      await Promise.all(temps.map((t) => rm(t.tmp, { force: true })));
    }
    const staged = await stageRepodata(repoDir, files, String(Math.floor(now.getTime() / 1000)), true);
    await writeFileAtomic(join(repoDir, keyFileName(dist)), signer.publicKeyArmored);
    state.repomd = await switchRepodata(repoDir, staged, signer);
    await rm(join(repoDir, STAGE_DIR), { recursive: true, force: true });
    // The next publish makes its repodata again (the signed files changed under their names).
    delete state.contentKey;
    await writeFileAtomic(join(repoDir, DNF_STATE_FILE), JSON.stringify(state));
    return { parts: [`${files.length} rpm header(s)`, 'repodata/repomd.xml.asc', keyFileName(dist)] };
  });
}
