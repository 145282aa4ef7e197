// Key renewal: sign the published Release again with another key, with a new
// Date (and Valid-Until moved by the same validity period), and publish that
// key. Index files and the pool are untouched.
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { NotFoundError } from '../../../schema/errors.ts';
import type { Signer } from '../../signing/signer.ts';
import { writeFileAtomic } from './atomic-write.ts';
import { signRelease } from './inrelease.ts';
import { sha256Hex } from './hashes.ts';
import { keyFileName } from './layout.ts';
import { redateRelease } from './release-file.ts';
import { serialized } from './serialize.ts';
import { withRepoLock } from './repo-lock.ts';
import { loadState, saveState } from './state.ts';
import { planSwitch } from './switch-plan.ts';

export interface ResignReport {
  distribution: string;
  /** Suite -> sha256 of its new Release. */
  releases: Record<string, string>;
  signedBy: string;
}

export async function resignRepository(root: string, distName: string, signer: Signer, now: Date): Promise<ResignReport> {
  const repoDir = join(root, distName);
  const published = await stat(join(repoDir, 'dists')).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (!published) throw new NotFoundError(`${repoDir}: no published repository to re-sign`, { distribution: distName });
  return serialized(repoDir, () => withRepoLock(repoDir, async () => {
    const suites = await readdir(join(repoDir, 'dists')).catch(() => [] as string[]);
    const report: ResignReport = { distribution: distName, releases: {}, signedBy: signer.fingerprint };
    const state = await loadState(repoDir);
    let keyWritten = false;
    for (const suite of suites.sort()) {
      const dir = `dists/${suite}`;
      const old = await readFile(join(repoDir, dir, 'Release'), 'utf8').catch(() => undefined);
      if (old === undefined) continue;
      const text = redateRelease(old, now);
      const { inRelease, releaseGpg } = await signRelease(signer, text);
      const key = keyWritten ? undefined : { path: keyFileName(distName), data: signer.publicKeyArmored };
      keyWritten = true;
      for (const step of planSwitch({ indexes: [], key, release: { dir, release: text, releaseGpg, inRelease } })) {
        if (step.op === 'write') await writeFileAtomic(join(repoDir, step.path), step.data);
      }
      report.releases[suite] = sha256Hex(text);
      state.release = {
        sha256: sha256Hex(text),
        contentKey: sha256Hex(redateRelease(old, new Date(0)) + signer.fingerprint),
        date: now.toISOString(),
        signer: signer.fingerprint,
      };
    }
    if (!keyWritten) throw new NotFoundError(`${repoDir}: no published Release to re-sign`, { distribution: distName });
    await saveState(repoDir, state);
    return report;
  }));
}
