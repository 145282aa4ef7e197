// The signatures of one manifest in the lookaside tree, replaced as a whole and
// atomically. REPOSITORY@sha256=HEX is a symlink to a sibling generation directory
// (REPOSITORY@sha256=HEX~<sha256 of the set>) holding signature-1..N; a new set is
// written to a hidden temp directory, renamed to its generation name, and the link
// is swapped with one rename, so on disk the set is always the old or the new one
// (a kill at any point leaves one of the two) and a re-run converges (generation
// names are content hashes; leftovers of killed runs are removed, each renamed aside
// first so that a generation under its name is always whole). kiln serve
// resolves the link per request. One writer per manifest at a time (the reconciler).
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, readFile, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { signatureFileName } from './simple-signing.ts';

/** Bounded: a manifest with more signatures than this is someone's mistake. */
export const MAX_SIGNATURES = 1000;

/** signature-1, signature-2, … up to the first missing one (how containers/image reads them). */
export async function readSignatureSet(dir: string): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for (let i = 1; i <= MAX_SIGNATURES; i++) {
    const bytes = await readFile(join(dir, signatureFileName(i))).catch(() => undefined);
    if (!bytes) break;
    out.push(bytes);
  }
  return out;
}

const sameSet = (x: Uint8Array[], y: Uint8Array[]) => x.length === y.length && x.every((b, i) => Buffer.compare(b, y[i]) === 0);

function generationName(dir: string, signatures: Uint8Array[]): string {
  const h = createHash('sha256');
  for (const s of signatures) h.update(createHash('sha256').update(s).digest());
  return `${basename(dir)}~${h.digest('hex').slice(0, 16)}`;
}

/** Hidden (never served), and named after the manifest: writers of other manifests in the same directory leave it alone. */
const tmpName = (dir: string, what: string) => `.${basename(dir)}~tmp-${what}-${process.pid}-${Math.random().toString(36).slice(2)}`;

/** Make `dir` (a manifest's lookaside path) hold exactly `signatures`, in order. */
export async function replaceSignatureSet(dir: string, signatures: Uint8Array[]): Promise<void> {
  if (signatures.length > MAX_SIGNATURES) throw new Error(`${dir}: ${signatures.length} signatures, more than ${MAX_SIGNATURES}`);
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  const generation = generationName(dir, signatures);
  const target = join(parent, generation);
  const existing = await lstat(target).catch(() => undefined);
  // A generation left by an older run is used only when whole (its name says what it must hold).
  if (existing && !sameSet(await readSignatureSet(target), signatures)) {
    const trash = join(parent, tmpName(dir, 'old'));
    await rename(target, trash);
    await rm(trash, { recursive: true, force: true });
  }
  if (!existing || !(await lstat(target).catch(() => undefined))) {
    const tmp = join(parent, tmpName(dir, 'set'));
    await mkdir(tmp);
    await Promise.all(signatures.map((s, i) => writeFile(join(tmp, signatureFileName(i + 1)), s)));
    await rename(tmp, target).catch(async (e: NodeJS.ErrnoException) => {
      await rm(tmp, { recursive: true, force: true });
      // Another run made the same generation (same content) first.
      if (e.code !== 'ENOTEMPTY' && e.code !== 'EEXIST') throw e;
    });
  }
  const current = await lstat(dir).catch(() => undefined);
  if (current?.isDirectory()) {
    // A plain directory (written before this layout): it cannot be swapped atomically, so it is moved
    // aside first. In between a consumer finds no signature and refuses the image: never a wrong accept.
    await rename(dir, join(parent, `${basename(dir)}~plain-${process.pid}`));
  }
  const link = join(parent, tmpName(dir, 'link'));
  await symlink(generation, link);
  await rename(link, dir);
  await removeOtherGenerations(dir, generation);
}

/** Generations of this manifest other than the current one, and temp leftovers of killed runs. */
async function removeOtherGenerations(dir: string, keep: string): Promise<void> {
  const parent = dirname(dir);
  const linked = await readlink(dir).catch(() => keep);
  for (const name of await readdir(parent)) {
    const mine = name.startsWith(`${basename(dir)}~`) || name.startsWith(`.${basename(dir)}~tmp-`);
    if (!mine || name === keep || name === linked) continue;
    // Renamed aside before removal: a generation under its content name is always whole (a kill
    // during a recursive rm would otherwise leave a partial set that a later run trusts and links).
    const trash = name.startsWith('.') ? name : tmpName(dir, 'old');
    if (trash !== name) await rename(join(parent, name), join(parent, trash)).catch(() => undefined);
    await rm(join(parent, trash), { recursive: true, force: true });
  }
}
