// `kiln keys renew` for a dnf repository: every published rpm's header and
// repomd.xml signed again with the new key, the key file replaced; same
// packages. Only the bytes Kiln published are signed (checked against the
// state). A re-signed rpm is served under a new path (served.ts), never over the
// file the live repodata names: the new repodata is staged, repomd.xml switched
// last, and the old files retired like any unnamed file (prune). A crash leaves
// the old set consistent and unnamed files to prune; a re-run converges.
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Signer } from '../../signing/signer.ts';
import { tempNameFor, writeFileAtomic } from '../apt/atomic-write.ts';
import { sha256File } from '../apt/hashes.ts';
import { withRepoLock } from '../apt/repo-lock.ts';
import { readRpms } from '../rpm/read-rpm.ts';
import { repomdLocations, stageRepodata } from './createrepo.ts';
import { DNF_STATE_FILE, keyFileName, REPOMD, STAGE_DIR } from './layout.ts';
import { prune, switchRepodata } from './switch.ts';
import { listServed, placeSigned, servedName } from './served.ts';
import { armoredHeaderSignature, signRpmCopies } from './sign-rpms.ts';
import { readDnfState } from './state.ts';

/** How long the files of the repodata before the renewal stay for its readers (as publishDnf's default). */
const RETAIN_MS = 600_000;

export async function resignDnf(root: string, dist: string, signer: Signer, now: Date): Promise<{ parts: string[] }> {
  const repoDir = join(root, dist);
  return withRepoLock(repoDir, async () => {
    const state = await readDnfState(repoDir);
    const old = Object.keys(state.files).filter((f) => !(f in state.retired)).sort();
    const temps = old.map((f) => ({ file: f, tmp: tempNameFor(join(repoDir, f)) }));
    const files: string[] = [];
    try {
      await signRpmCopies(signer, temps.map((t) => ({ from: join(repoDir, t.file), to: t.tmp, expect: { name: t.file, sha256: state.files[t.file].sha256, size: state.files[t.file].size } })));
      const headers = await readRpms(temps.map((t) => ({ path: t.tmp, label: t.file })));
      const taken = new Set([...(await listServed(repoDir)), ...Object.keys(state.files)]);
      for (const [i, t] of temps.entries()) {
        const { sha256, size } = await sha256File(t.tmp);
        const hex = headers[i].signatureHex;
        const rel = await placeSigned(repoDir, t.tmp, servedName(t.file), sha256, taken);
        const { signature: _old, ...rest } = state.files[t.file];
        state.files[rel] = { ...rest, sha256, size, key: signer.fingerprint, ...(hex ? { signature: await armoredHeaderSignature(hex) } : {}) };
        files.push(rel);
      }
    } finally {
      await Promise.all(temps.map((t) => rm(t.tmp, { force: true })));
    }
    files.sort();
    const staged = await stageRepodata(repoDir, files, String(Math.floor(now.getTime() / 1000)), true);
    await writeFileAtomic(join(repoDir, keyFileName(dist)), signer.publicKeyArmored);
    state.repomd = await switchRepodata(repoDir, staged, signer);
    await rm(join(repoDir, STAGE_DIR), { recursive: true, force: true });
    // The next publish makes its repodata again (the signed files moved).
    delete state.contentKey;
    const repomd = await readFile(join(repoDir, REPOMD), 'utf8');
    await prune(repoDir, state, new Set([...files, ...repomdLocations(repomd)]), now.getTime(), RETAIN_MS);
    await writeFileAtomic(join(repoDir, DNF_STATE_FILE), JSON.stringify(state));
    return { parts: [`${files.length} rpm header(s)`, 'repodata/repomd.xml.asc', keyFileName(dist)] };
  });
}
