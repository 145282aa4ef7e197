// publishDnf's second step: signed copies of the rpms not yet served signed by this key, placed
// under new names (served.ts): a copy header-signed at collect by this key is hard-linked from the
// cache straight to where it is served and its bytes checked as createrepo_c reads them
// (placed-digests.ts), any other is signed here (sign-rpms.ts).
import { readFile as readFileCallback } from 'node:fs';
import { copyFile, link, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pMap from 'p-map';
import { PublishInputError } from '../../../schema/errors.ts';
import type { Signer } from '../../signing/signer.ts';
import { tempNameFor } from '../apt/atomic-write.ts';
import { sha256File, sha256Hex } from '../apt/hashes.ts';
import { readRpms } from '../rpm/read-rpm.ts';
import { PACKAGES_DIR } from './layout.ts';
import { armoredHeaderSignature, keyIdOf, signRpmCopies, type SignedCopy } from './sign-rpms.ts';
import { linkSigned, listServed, placeSigned, removeEmptyDirs, servedName } from './served.ts';
import type { DnfState } from './state.ts';
import { recordedByName, type Checked, type RpmInput } from './check-inputs.ts';
import { makeDir } from './switch.ts';

// The callback API: fs/promises makes a FileHandle per file (thousands of rpms are placed).
const readWhole = promisify(readFileCallback);
/** Above this, a placed file is hashed as a stream (not held in memory). */
const READ_WHOLE_MAX = 16 * 1024 * 1024;

async function digestOf(path: string, expectedSize: number): Promise<{ sha256: string; size: number }> {
  if (expectedSize > READ_WHOLE_MAX) return sha256File(path);
  const bytes = await readWhole(path);
  return { sha256: sha256Hex(bytes), size: bytes.length };
}

/** The copy header-signed at collect by this key, when there is one. */
function collectedBy(input: RpmInput, signer: Signer): (NonNullable<RpmInput['headerSigned']> & { signature: string }) | undefined {
  const h = input.headerSigned;
  return h?.signature && h.signingKey === signer.fingerprint ? { ...h, signature: h.signature } : undefined;
}

/** The copy header-signed at collect by this key, copied to `tmp` and checked (a cache on another filesystem); undefined when there is none, or it is gone or not what was recorded (then it is signed here). */
async function collectedCopy(input: RpmInput, tmp: string, signer: Signer): Promise<SignedCopy | undefined> {
  const h = collectedBy(input, signer);
  if (!h) return undefined;
  const placed = await link(h.path, tmp).then(
    () => true,
    (e: NodeJS.ErrnoException) => e.code !== 'ENOENT' && copyFile(h.path, tmp).then(() => true, () => false),
  );
  if (!placed) return undefined;
  // What is served is checked, after it was linked: never bytes other than the recorded ones.
  const got = await digestOf(tmp, h.size).catch(() => undefined);
  if (got?.sha256 !== h.sha256 || got.size !== h.size) {
    // Unlinked before anything writes to this name (a write would go into the cache's file).
    await rm(tmp, { force: true });
    return undefined;
  }
  return { sha256: h.sha256, size: h.size, signature: h.signature };
}

/** Copies of the rpms read at a time (collected copies placed, or signed). */
const COPY_CONCURRENCY = 16;

export interface Placed {
  /** Each input file's served path. */
  served: Map<string, string>;
  /**
   * Collected copies hard-linked in this publish, by served path, with the bytes recorded for
   * them: not read here, checked against createrepo_c's reading before repomd.xml names them.
   */
  unchecked: Map<string, { sha256: string; size: number }>;
}

/**
 * Signed copies of the rpms not yet served signed by this key, each under a new served path
 * (served.ts: never over a served file): a copy collected by this key hard-linked there (left to
 * check: `unchecked`), any other signed into a temp file, checked and renamed there. `into` is
 * filled as copies are placed, so should this throw the caller still knows what was linked.
 */
/** A Placed to fill (signNew): the caller holds it, so a publish that fails anywhere removes what was linked (unlinkUnchecked). */
export const nothingPlaced = (): Placed => ({ served: new Map(), unchecked: new Map() });

/** Remove the copies linked in this publish and not yet named by repodata (the publish failed). */
export async function unlinkUnchecked(repoDir: string, placed: Placed): Promise<void> {
  if (placed.unchecked.size === 0) return;
  await Promise.all([...placed.unchecked.keys()].map((rel) => rm(join(repoDir, rel), { force: true })));
  placed.unchecked.clear();
  await removeEmptyDirs(repoDir);
}

export async function signNew(repoDir: string, byFile: Map<string, Checked>, state: DnfState, signer: Signer, into: Placed = nothingPlaced()): Promise<Placed> {
  const { served, unchecked } = into;
  const todo: { file: string; input: Checked; tmp: string }[] = [];
  // One listing, not a stat per file: thousands of rpms are published.
  const onDisk = new Set(await listServed(repoDir));
  const recorded = recordedByName(state);
  for (const [file, input] of byFile) {
    // Signed by this key before and still there: served as it is (the copy the repodata names first).
    const had = (recorded.get(file) ?? [])
      .filter((rel) => state.files[rel].built === input.sha256 && state.files[rel].key === signer.fingerprint && onDisk.has(rel))
      .sort((x, y) => Number(x in state.retired) - Number(y in state.retired))[0];
    if (had) {
      served.set(file, had);
      delete state.retired[had];
      continue;
    }
    todo.push({ file, input, tmp: tempNameFor(join(repoDir, file)) });
  }
  if (todo.length === 0) return into;
  await makeDir(join(repoDir, PACKAGES_DIR));
  const taken = new Set([...onDisk, ...Object.keys(state.files)]);
  const record = (t: (typeof todo)[number], rel: string, copy: SignedCopy) => {
    const { name, evr } = t.input.header;
    state.files[rel] = { built: t.input.sha256, sha256: copy.sha256, size: copy.size, key: signer.fingerprint, name, evr, ...(copy.signature ? { signature: copy.signature } : {}) };
    delete state.retired[rel];
    served.set(t.file, rel);
  };
  // One link per collected copy, no read: a link that fails (gone from the cache, another filesystem) goes the slow way.
  const linked = await pMap(todo, async (t) => {
    const h = collectedBy(t.input, signer);
    return h && linkSigned(repoDir, h.path, servedName(t.file), h.sha256, taken).then((rel) => ({ rel, h }), () => undefined);
  }, { concurrency: COPY_CONCURRENCY });
  for (const [i, l] of linked.entries()) {
    if (!l) continue;
    record(todo[i], l.rel, { sha256: l.h.sha256, size: l.h.size, signature: l.h.signature });
    unchecked.set(l.rel, { sha256: l.h.sha256, size: l.h.size });
  }
  const rest = todo.filter((_, i) => !linked[i]);
  // Temp files that may exist: removed when the publish stops (a placed one was renamed).
  const unplaced = new Set(rest);
  try {
    const signed = await pMap(rest, (t) => collectedCopy(t.input, t.tmp, signer), { concurrency: COPY_CONCURRENCY });
    const unsigned = rest.flatMap((t, i) => (signed[i] ? [] : [i]));
    const made = await signRpmCopies(signer, unsigned.map((i) => ({ from: rest[i].input.path, to: rest[i].tmp, expect: rest[i].input })));
    for (const [j, i] of unsigned.entries()) signed[i] = made[j];
    // What rpmsign signed (packages without reserved space) is read back: rpm says whose signature it holds.
    const byRpmsign = rest.filter((_, i) => !signed[i]);
    const read = new Map((await readRpms(byRpmsign.map((t) => ({ path: t.tmp, label: t.input.name })))).map((h, i) => [byRpmsign[i], h]));
    // Placed side by side (each rename waits on the disk); placeSigned takes each path before it waits.
    await pMap(rest.entries(), async ([i, t]) => {
      let copy = signed[i];
      if (!copy) {
        const h = read.get(t)!;
        if (h.signedBy !== keyIdOf(signer.fingerprint)) throw new PublishInputError(`${t.input.name}: rpmsign left no signature by ${signer.fingerprint}`, { artifact: t.input.name });
        copy = { ...(await sha256File(t.tmp)), signature: h.signatureHex ? await armoredHeaderSignature(h.signatureHex) : '' };
      }
      const rel = await placeSigned(repoDir, t.tmp, servedName(t.file), copy.sha256, taken);
      unplaced.delete(t);
      record(t, rel, copy);
    }, { concurrency: COPY_CONCURRENCY });
  } finally {
    await Promise.all([...unplaced].map((t) => rm(t.tmp, { force: true })));
  }
  return into;
}

/**
 * Linked copies (`bad`, served paths in `placed.unchecked`) whose bytes are not what collect
 * recorded: unlinked (no repodata names them yet) and signed again from the built rpms, whose
 * digest is checked; `placed` and `state` updated.
 */
export async function signMismatchedAgain(repoDir: string, bad: string[], byFile: Map<string, Checked>, placed: Placed, state: DnfState, signer: Signer): Promise<void> {
  const wrong = new Set(bad);
  const again = new Map<string, Checked>();
  for (const [file, rel] of placed.served) if (wrong.has(rel)) again.set(file, { ...byFile.get(file)!, headerSigned: undefined });
  await Promise.all(bad.map((rel) => rm(join(repoDir, rel), { force: true })));
  for (const rel of bad) {
    delete state.files[rel];
    placed.unchecked.delete(rel);
  }
  for (const [file, rel] of (await signNew(repoDir, again, state, signer)).served) placed.served.set(file, rel);
}
