// Bringing one input .deb into the pool, verified: the bytes checked against
// the claimed sha256 are the bytes that get published.
//
// Two ways, chosen by the caller:
//  - 'copy' (default): read the input, check it, write a copy (temp + rename).
//    The pool owes nothing to the input afterwards.
//  - 'link': hard-link the input to a temp name in the pool, check the bytes
//    through that name, rename. ~4x faster for thousands of small files (no
//    data written), but pool file and input share an inode: whoever owns the
//    input must never rewrite it in place (replace it by rename, or leave it).
//    apt would refuse a changed file (its SHA256 is in the signed index), so
//    the risk is availability, not integrity. Falls back to copying across
//    filesystems. aptly links from its pool the same way.
import { closeSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { chmod, link, readFile, rename, stat, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';
import { DigestMismatchError, PublishInputError } from '../../../schema/errors.ts';
import { formatControlParagraph } from '../deb/control-paragraph.ts';
import { readDebControl } from '../deb/read-deb.ts';
import { ensureDir, remakeDir, tempNameFor, writeFileAtomic } from './atomic-write.ts';
import { digests, sha256Hex, type Digests } from './hashes.ts';
import { indexableControl } from './packages-index.ts';

export type IngestMode = 'copy' | 'link';

export interface InputFile {
  name: string;
  path: string;
  size: number;
  sha256: string;
}

export interface Ingested {
  digests: Digests;
  /** Control paragraph without the fields apt computes. */
  control: string;
  /** False when the pool already held these exact bytes. */
  added: boolean;
}

const exists = (p: string) => stat(p).then(() => true, () => false);

/**
 * A small file's bytes and mode. Synchronous on purpose: a few short syscalls
 * block this thread for well under a millisecond while libuv's four fs threads
 * do the pool writes; measured, it takes a third off a 5,000-file publish.
 */
function readSmall(path: string, size: number): { bytes: Buffer; mode: number } {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(size + 1);
    let got = 0;
    for (let n = -1; n !== 0 && got < buf.length; got += n) n = readSync(fd, buf, got, buf.length - got, got);
    const mode = fstatSync(fd).mode;
    return { bytes: got > size ? readFileSync(path) : buf.subarray(0, got), mode };
  } finally {
    closeSync(fd);
  }
}

function verify(file: InputFile, bytes: Buffer): Digests {
  const d = digests(bytes);
  if (d.sha256 !== file.sha256 || d.size !== file.size) {
    throw new DigestMismatchError(`${file.path}: bytes are sha256 ${d.sha256} (${d.size} bytes), expected ${file.sha256} (${file.size} bytes); not published`, {
      file: file.path,
      expected: file.sha256,
      actual: d.sha256,
    });
  }
  return d;
}

const controlOf = async (file: InputFile, bytes: Buffer) => indexableControl(formatControlParagraph(await readDebControl(bytes, file.name)));

const LINK_FALLBACK = new Set(['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EACCES']);

async function ingestByLink(file: InputFile, target: string): Promise<Ingested | undefined> {
  await ensureDir(dirname(target));
  const tmp = tempNameFor(target);
  try {
    await link(file.path, tmp).catch(async (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ENOENT') throw e;
      await remakeDir(dirname(target)); // pruned since this process made it (or the input is missing: link fails again)
      await link(file.path, tmp);
    });
  } catch (e) {
    if (LINK_FALLBACK.has((e as NodeJS.ErrnoException).code ?? '')) return undefined;
    throw e;
  }
  try {
    const { bytes, mode } = readSmall(tmp, file.size);
    const d = verify(file, bytes);
    const control = await controlOf(file, bytes);
    if ((mode & 0o444) !== 0o444) await chmod(tmp, 0o644); // apt's _apt user must read it
    await rename(tmp, target);
    return { digests: d, control, added: true };
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

/** Put `file` at `target` (absolute) unless the same bytes are there; refuse other bytes there. */
export async function ingestPoolFile(file: InputFile, target: string, poolRel: string, mode: IngestMode = 'copy'): Promise<Ingested> {
  const present = await exists(target);
  if (mode === 'link' && !present) {
    const linked = await ingestByLink(file, target);
    if (linked) return linked;
  }
  const { bytes } = readSmall(file.path, file.size);
  const d = verify(file, bytes);
  const control = await controlOf(file, bytes);
  if (present) {
    const onDisk = sha256Hex(await readFile(target));
    if (onDisk !== d.sha256) throw new PublishInputError(`${poolRel} already exists with other bytes (sha256 ${onDisk.slice(0, 12)}…): bump the version`, { file: poolRel });
    return { digests: d, control, added: false };
  }
  await writeFileAtomic(target, bytes);
  return { digests: d, control, added: true };
}
