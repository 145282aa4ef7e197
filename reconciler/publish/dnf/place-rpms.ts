// publishDnf's second step: signed copies of the rpms not yet served signed by this key, placed
// under new names (served.ts): a copy header-signed at collect by this key is hard-linked from the
// cache and checked, any other is signed here (sign-rpms.ts).
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
import { listServed, placeSigned, servedName } from './served.ts';
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

/** The copy header-signed at collect by this key, hard-linked (copied across filesystems) to `tmp`; undefined when there is none, or it is gone or not what was recorded (then it is signed here). */
async function collectedCopy(input: RpmInput, tmp: string, signer: Signer): Promise<SignedCopy | undefined> {
  const h = input.headerSigned;
  if (!h?.signature || h.signingKey !== signer.fingerprint) return undefined;
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

/**
 * Signed copies of the rpms not yet served signed by this key: temp files, signed, then moved to
 * where they are served (served.ts: never over a served file). Returns each file's served path.
 */
export async function signNew(repoDir: string, byFile: Map<string, Checked>, state: DnfState, signer: Signer): Promise<Map<string, string>> {
  const served = new Map<string, string>();
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
  if (todo.length === 0) return served;
  await makeDir(join(repoDir, PACKAGES_DIR));
  const taken = new Set([...onDisk, ...Object.keys(state.files)]);
  // Temp files that may exist: removed when the publish stops (a placed one was renamed).
  const unplaced = new Set(todo);
  try {
    const signed = await pMap(todo, (t) => collectedCopy(t.input, t.tmp, signer), { concurrency: COPY_CONCURRENCY });
    const unsigned = todo.flatMap((t, i) => (signed[i] ? [] : [i]));
    const made = await signRpmCopies(signer, unsigned.map((i) => ({ from: todo[i].input.path, to: todo[i].tmp, expect: todo[i].input })));
    for (const [j, i] of unsigned.entries()) signed[i] = made[j];
    // What rpmsign signed (packages without reserved space) is read back: rpm says whose signature it holds.
    const byRpmsign = todo.filter((_, i) => !signed[i]);
    const read = new Map((await readRpms(byRpmsign.map((t) => ({ path: t.tmp, label: t.input.name })))).map((h, i) => [byRpmsign[i], h]));
    // Placed side by side (each rename waits on the disk); placeSigned takes each path before it waits.
    await pMap(todo.entries(), async ([i, t]) => {
      let copy = signed[i];
      if (!copy) {
        const h = read.get(t)!;
        if (h.signedBy !== keyIdOf(signer.fingerprint)) throw new PublishInputError(`${t.input.name}: rpmsign left no signature by ${signer.fingerprint}`, { artifact: t.input.name });
        copy = { ...(await sha256File(t.tmp)), signature: h.signatureHex ? await armoredHeaderSignature(h.signatureHex) : '' };
      }
      const rel = await placeSigned(repoDir, t.tmp, servedName(t.file), copy.sha256, taken);
      unplaced.delete(t);
      const { name, evr } = t.input.header;
      state.files[rel] = { built: t.input.sha256, sha256: copy.sha256, size: copy.size, key: signer.fingerprint, name, evr, ...(copy.signature ? { signature: copy.signature } : {}) };
      delete state.retired[rel];
      served.set(t.file, rel);
    }, { concurrency: COPY_CONCURRENCY });
  } finally {
    await Promise.all([...unplaced].map((t) => rm(t.tmp, { force: true })));
  }
  return served;
}

