// publishDnf's last steps, shared with resign.ts: the staged repodata moved in (repomd.xml, the
// switch, last) and what the repository no longer names pruned after a grace period.
import { chmod, mkdir, readFile, readdir, rename, rm, stat, unlink } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Signer } from '../../signing/signer.ts';
import { isTempName, writeFileAtomic } from '../apt/atomic-write.ts';
import { sha256Hex } from '../apt/hashes.ts';
import { HASHED_REPODATA, PACKAGES_DIR, REPODATA_DIR, REPOMD, REPOMD_SIG } from './layout.ts';
import { listServed, removeEmptyDirs } from './served.ts';
import type { DnfState } from './state.ts';

/** mkdir -p, world-readable, every time: a repository deleted under a running publisher is made again (ensureDir remembers directories). */
export async function makeDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  await chmod(dir, 0o755);
}

/** Move the staged repodata in: checksum-named files first (new names only), then the signature, then repomd.xml (the switch). */
export async function switchRepodata(repoDir: string, staged: string, signer: Signer): Promise<string> {
  const repomd = await readFile(join(staged, 'repomd.xml'));
  const signature = await signer.signDetached(repomd);
  await makeDir(join(repoDir, REPODATA_DIR));
  for (const name of await readdir(staged)) {
    if (name === 'repomd.xml') continue;
    const target = join(repoDir, REPODATA_DIR, name);
    const exists = await stat(target).then(() => true, () => false);
    if (!exists) await rename(join(staged, name), target);
  }
  await writeFileAtomic(join(repoDir, REPOMD_SIG), signature);
  await writeFileAtomic(join(repoDir, REPOMD), repomd);
  return sha256Hex(repomd);
}

/** Mark what the new repository no longer names, and delete what has been unnamed for `retainMs`. */
export async function prune(repoDir: string, state: DnfState, current: Set<string>, now: number, retainMs: number): Promise<void> {
  const onDisk = [
    ...(await listServed(repoDir)),
    ...(await readdir(join(repoDir, REPODATA_DIR)).catch(() => [] as string[])).map((n) => `${REPODATA_DIR}/${n}`),
  ];
  for (const rel of onDisk) {
    if (isTempName(basename(rel))) {
      await rm(join(repoDir, rel), { force: true });
      continue;
    }
    const prunable = rel.startsWith(`${PACKAGES_DIR}/`) || HASHED_REPODATA.test(rel);
    if (!prunable || current.has(rel)) {
      delete state.retired[rel];
      continue;
    }
    const since = (state.retired[rel] ??= now);
    if (now - since >= retainMs) {
      await unlink(join(repoDir, rel)).catch(() => undefined);
      delete state.retired[rel];
      delete state.files[rel];
    }
  }
  await removeEmptyDirs(repoDir);
}

