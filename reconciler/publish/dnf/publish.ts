// publishDnf: make ROOT/<dist> a signed dnf repository holding exactly the given
// rpms. Layout: layout.ts and served.ts; order of writes: signed rpms under new
// names, staged repodata, the key and .repo file, repomd.xml.asc, repomd.xml last
// (switchRepodata), prune. A publish that fails before the switch removes the
// collected copies it linked.
// An rpm whose header the reconciler signed at collect with this key
// (pipeline/signed-rpms.ts) is placed as it is (hard-linked from the cache), its
// header facts as rpm read them at collect (recorded with it) trusted and its bytes
// checked against createrepo_c's reading before the switch (placed-digests.ts); any
// other is read by rpm and signed here.
import { readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { Signer } from '../../signing/signer.ts';
import { writeFileAtomic } from '../apt/atomic-write.ts';
import { sha256Hex } from '../apt/hashes.ts';
import { withRepoLock } from '../apt/repo-lock.ts';
import { repomdLocations, stageRepodata } from './createrepo.ts';
import { DNF_STATE_FILE, keyFileName, REPOMD, REPOMD_SIG, repoFileName, STAGE_DIR } from './layout.ts';
import { repoFile } from './repo-file.ts';
import { emptyDnfState, readDnfState, type DnfState } from './state.ts';
import { checkInputs, type Checked, type RpmInput } from './check-inputs.ts';
import { nothingPlaced, signMismatchedAgain, signNew, unlinkUnchecked, type Placed } from './place-rpms.ts';
import { mismatchedCopies, reusedPathsDiffering } from './placed-digests.ts';
import { PublishError } from '../../../schema/errors.ts';
import { prune, switchRepodata } from './switch.ts';

export type { RpmInput } from './check-inputs.ts';

export interface PublishDnfOptions {
  root: string;
  distribution: { name: string; baseUrl?: string; title?: string };
  packages: RpmInput[];
  signer: Signer;
  now: Date;
  log?: Logger;
  /** How long files no longer referenced stay for readers of the previous repodata (default 600 s). */
  retainSeconds?: number;
  /** Ignore the state cache: regenerate all repodata (the repository drifted). */
  fresh?: boolean;
}

export interface SignedRpm {
  /** Published path, relative to ROOT/<dist>. */
  file: string;
  /** sha256 of the built (unsigned) artifact. */
  built: string;
  /** sha256 of the published, signed file. */
  sha256: string;
  size: number;
  keyFingerprint: string;
  /** The rpm header's OpenPGP signature, armored (absent for a file signed before Kiln recorded them). */
  signature?: string;
}

export interface PublishDnfReport {
  /** sha256 of the published repomd.xml (what repomd.xml.asc signs). */
  repomdSha256: string;
  changed: boolean;
  rpms: SignedRpm[];
}

interface StageContext {
  repoDir: string;
  revision: string;
  fresh: boolean;
  placed: Placed;
  byFile: Map<string, Checked>;
  state: DnfState;
  signer: Signer;
  log?: Logger;
}

/** Every promise settled before the first rejection is thrown: a failure never leaves createrepo_c running under a caller that cleans up. */
async function allSettled<T extends unknown[]>(...ps: { [K in keyof T]: Promise<T[K]> }): Promise<T> {
  const out = await Promise.allSettled(ps);
  const failed = out.find((r) => r.status === 'rejected');
  if (failed) throw failed.reason;
  return out.map((r) => (r as PromiseFulfilledResult<unknown>).value) as T;
}

/**
 * The repodata of every placed rpm staged, each collected copy linked unread in this publish
 * proved by createrepo_c's reading of it, or hashed where the published repodata already names
 * its path (placed-digests.ts): one that differs is signed again from its built rpm and the
 * repodata staged again, and read again (a difference then fails the publish).
 */
async function stageProved(c: StageContext): Promise<{ staged: string; files: string[] }> {
  const filesNow = () => [...c.placed.served.values()].sort();
  const stage = () => stageRepodata(c.repoDir, filesNow(), c.revision, c.fresh);
  let [staged, reused] = await allSettled(stage(), reusedPathsDiffering(c.repoDir, c.placed.unchecked));
  const bad = [...new Set([...(await mismatchedCopies(staged, c.placed.unchecked)), ...reused])];
  if (bad.length > 0) {
    c.log?.warn({ files: bad }, 'collected rpm copies differ from their record: signed again from the built rpms');
    await signMismatchedAgain(c.repoDir, bad, c.byFile, c.placed, c.state, c.signer);
    staged = await stage();
    const still = await mismatchedCopies(staged, c.placed.unchecked);
    if (still.length > 0) throw new PublishError(`collected rpm copies read differently by a second createrepo_c run: ${still.join(', ')}; nothing published`, { repo: c.repoDir, files: still });
  }
  return { staged, files: filesNow() };
}

export async function publishDnf(o: PublishDnfOptions): Promise<PublishDnfReport> {
  const dist = o.distribution.name;
  const repoDir = join(o.root, dist);
  const now = o.now.getTime();
  const log = o.log?.child({ component: 'publish-dnf', distribution: dist });
  return withRepoLock(repoDir, async (tookOver) => {
    const state = o.fresh ? emptyDnfState() : await readDnfState(repoDir);
    if (tookOver) await rm(join(repoDir, STAGE_DIR), { recursive: true, force: true });
    // Milliseconds per step, logged with the outcome (scripts/bench-publish-dnf.ts prints them).
    const ms: Record<string, number> = {};
    let t0 = performance.now();
    const lap = (step: string) => {
      ms[step] = Math.round(performance.now() - t0);
      t0 = performance.now();
    };
    const byFile = await checkInputs(o.packages, state, o.signer);
    lap('check');
    // Filled by signNew as it links: whatever fails before the switch, the copies linked in this publish are removed (no repodata names them).
    const placed = nothingPlaced();
    let files: string[] = [];
    let repomdSha256: string;
    let changed = false;
    try {
      await signNew(repoDir, byFile, state, o.signer, placed);
      lap('place');
      files = [...placed.served.values()].sort();
      const keyFile = keyFileName(dist);
      const repo = repoFile({ distribution: dist, baseUrl: o.distribution.baseUrl ?? `file://${repoDir}`, title: o.distribution.title }, keyFile);
      const contentKeyOf = (list: string[]) => sha256Hex(JSON.stringify([list.map((f) => [f, state.files[f].sha256]), o.signer.fingerprint, repo]));
      const published = await readFile(join(repoDir, REPOMD)).catch(() => undefined);
      const signed = await stat(join(repoDir, REPOMD_SIG)).then(() => true, () => false);
      if (!o.fresh && published && signed && placed.unchecked.size === 0 && state.contentKey === contentKeyOf(files) && state.repomd === sha256Hex(published)) {
        repomdSha256 = state.repomd;
      } else {
        const proved = await stageProved({ repoDir, revision: String(Math.floor(now / 1000)), fresh: Boolean(o.fresh), placed, byFile, state, signer: o.signer, log });
        lap('createrepo');
        files = proved.files;
        // Only now the repodata is staged and proved: a failed publish never leaves a new key beside the old repomd.xml.asc.
        await Promise.all([writeFileAtomic(join(repoDir, keyFile), o.signer.publicKeyArmored), writeFileAtomic(join(repoDir, repoFileName(dist)), repo)]);
        repomdSha256 = await switchRepodata(repoDir, proved.staged, o.signer);
        state.contentKey = contentKeyOf(files);
        state.repomd = repomdSha256;
        changed = true;
      }
    } catch (e) {
      await unlinkUnchecked(repoDir, placed);
      throw e;
    }
    if (changed) {
      await rm(join(repoDir, STAGE_DIR), { recursive: true, force: true });
      lap('switch');
    }
    const repomd = await readFile(join(repoDir, REPOMD), 'utf8');
    await prune(repoDir, state, new Set([...files, ...repomdLocations(repomd)]), now, (o.retainSeconds ?? 600) * 1000);
    await writeFileAtomic(join(repoDir, DNF_STATE_FILE), JSON.stringify(state));
    lap('prune');
    log?.info({ rpms: files.length, changed, ms }, changed ? 'dnf repository published' : 'dnf repository unchanged');
    return {
      repomdSha256,
      changed,
      rpms: await Promise.all(
        files.map(async (f) => {
          const s = state.files[f];
          // A state written before sizes were kept: the file says.
          const size = s.size ?? (await stat(join(repoDir, f))).size;
          return { file: f, built: s.built, sha256: s.sha256, size, keyFingerprint: s.key, ...(s.signature ? { signature: s.signature } : {}) };
        }),
      ),
    };
  });
}
