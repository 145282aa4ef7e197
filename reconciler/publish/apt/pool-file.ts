// Bringing one input .deb into the pool, verified: the bytes checked against
// the claimed sha256 are the bytes that get published.
//
// Two ways, chosen by the caller:
//  - 'copy' (default): read the input, check it, write a copy (temp + rename).
//    The pool owes nothing to the input afterwards.
//  - 'link': hard-link the input to a temp name in the pool, check the bytes
//    through that name, rename. Faster for thousands of small files (no data
//    written), but pool file and input share an inode: whoever owns the input
//    must never rewrite it in place (replace it by rename, or leave it). apt
//    would refuse a changed file (its SHA256 is in the signed index), so the
//    risk is availability, not integrity. Falls back to copying across
//    filesystems. aptly links from its pool the same way.
//
// The file system calls are synchronous on purpose: for small files direct
// syscalls beat libuv's thread pool by ~2x (scripts/bench-publish); each call
// here blocks for microseconds and publish.ts yields to the event loop every
// few milliseconds. Only xz control archives await (WebAssembly decoder).
import { closeSync, fstatSync, linkSync, openSync, readFileSync, readSync, renameSync, statSync, chmodSync, unlinkSync } from 'node:fs';
import { dirname } from 'node:path';
import { DigestMismatchError, PublishInputError } from '../../../schema/errors.ts';
import { formatControlParagraph } from '../deb/control-paragraph.ts';
import { readDebControl } from '../deb/read-deb.ts';
import { ensureDirSync, remakeDirSync, tempNameFor, writeFileAtomicSync } from './atomic-write.ts';
import { digests, sha256Hex, type Digests } from './hashes.ts';
import { indexableControl } from './packages-index.ts';

export type IngestMode = 'copy' | 'link';

export interface InputFile {
  /** File name in the pool, e.g. hello_1.0-1_amd64.deb. */
  name: string;
  /** A local copy of the .deb. */
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

function existsSync(path: string): boolean {
  try {
    statSync(path);
    return true;
  } catch {
    return false;
  }
}

/** A small file's bytes (and mode when asked), in three syscalls (four). */
function readSmall(path: string, size: number, withMode = false): { bytes: Buffer; mode: number } {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(size + 1);
    let got = 0;
    for (let n = -1; n !== 0 && got < buf.length; got += n) n = readSync(fd, buf, got, buf.length - got, got);
    const mode = withMode ? fstatSync(fd).mode : 0;
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

/** What the index needs of a file's bytes: a .deb's control paragraph by default. */
export type Describe = (file: InputFile, bytes: Buffer) => Promise<string>;

export const controlOf: Describe = async (file, bytes) => indexableControl(formatControlParagraph(await readDebControl(bytes, file.name)));

const LINK_FALLBACK = new Set(['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EACCES']);

function linkToTemp(file: InputFile, target: string): string | undefined {
  const dir = dirname(target);
  ensureDirSync(dir);
  const tmp = tempNameFor(target);
  for (let attempt = 0; ; attempt++) {
    try {
      linkSync(file.path, tmp);
      return tmp;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? '';
      if (LINK_FALLBACK.has(code)) return undefined;
      if (code === 'ENOENT' && attempt === 0 && existsSync(file.path)) {
        remakeDirSync(dir); // the cached dir was pruned since this process made it
        continue;
      }
      throw e;
    }
  }
}

async function ingestByLink(file: InputFile, tmp: string, target: string, describe: Describe): Promise<Ingested> {
  try {
    const { bytes, mode } = readSmall(tmp, file.size, true);
    const d = verify(file, bytes);
    const control = await describe(file, bytes);
    if ((mode & 0o444) !== 0o444) chmodSync(tmp, 0o644); // apt's _apt user must read it
    renameSync(tmp, target);
    return { digests: d, control, added: true };
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      /* already gone */
    }
    throw e;
  }
}

/** Put `file` at `target` (absolute) unless the same bytes are there; refuse other bytes there. */
export async function ingestPoolFile(file: InputFile, target: string, poolRel: string, mode: IngestMode = 'copy', describe: Describe = controlOf): Promise<Ingested> {
  // A directory made just now is empty: no need to look for the target (most files of a first publish).
  const present = !ensureDirSync(dirname(target)) && existsSync(target);
  if (mode === 'link' && !present) {
    const tmp = linkToTemp(file, target);
    if (tmp) return ingestByLink(file, tmp, target, describe);
  }
  const { bytes } = readSmall(file.path, file.size);
  const d = verify(file, bytes);
  const control = await describe(file, bytes);
  if (present) {
    const onDisk = sha256Hex(readFileSync(target));
    if (onDisk !== d.sha256) throw new PublishInputError(`${poolRel} already exists with other bytes (sha256 ${onDisk.slice(0, 12)}…): bump the version`, { file: poolRel });
    return { digests: d, control, added: false };
  }
  writeFileAtomicSync(target, bytes);
  return { digests: d, control, added: true };
}
