// Touching an untrusted source tree on the host, where the agent may run as root:
// never through a symbolic link (any component), never a FIFO or device, never
// more than a limit, and never outside the checkout root. Errors say what was wrong.
import { constants } from 'node:fs';
import { lchown, lstat, open, readdir, realpath } from 'node:fs/promises';
import { join, sep } from 'node:path';
import { SourceResolveError } from '../schema/errors.ts';
import { printable } from '../schema/quote.ts';

const split = (rel: string) => rel.split('/').filter((p) => p !== '' && p !== '.');

/**
 * `root`/`rel`, checked to be a real directory: every component exists, is a
 * directory and is not a symbolic link. `rel` is relative (safeSubdir made it so).
 */
export async function realDirUnder(root: string, rel: string): Promise<string> {
  let path = root;
  const seen: string[] = [];
  for (const part of split(rel)) {
    path = join(path, part);
    seen.push(part);
    const st = await lstat(path).catch(() => undefined);
    const name = printable(seen.join('/'));
    if (!st) throw new SourceResolveError(`${name} does not exist in the source tree`, { path: name });
    if (st.isSymbolicLink()) throw new SourceResolveError(`${name} is a symbolic link; it is not followed`, { path: name });
    if (!st.isDirectory()) throw new SourceResolveError(`${name} is not a directory`, { path: name });
  }
  await assertUnder(root, path, rel);
  return path;
}

/** The bytes of the regular file `root`/`rel`, at most `maxBytes` long. */
export async function readSourceFile(root: string, relPath: string, maxBytes: number): Promise<Buffer> {
  const parts = split(relPath);
  const rel = printable(relPath);
  const dir = await realDirUnder(root, parts.slice(0, -1).join('/'));
  const path = join(dir, parts.at(-1)!);
  // O_NOFOLLOW: a link as the last component fails (ELOOP); O_NONBLOCK: a FIFO cannot hang the open.
  const fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ELOOP') throw new SourceResolveError(`${rel} is a symbolic link; it is not followed`, { path: rel });
    if (e.code === 'ENOENT') throw new SourceResolveError(`${rel} not found in the source tree`, { path: rel });
    throw new SourceResolveError(`${rel} cannot be opened: ${e.code ?? e.message}`, { path: rel }, { cause: e });
  });
  try {
    const st = await fh.stat();
    if (!st.isFile()) throw new SourceResolveError(`${rel} is not a regular file`, { path: rel });
    if (st.size > maxBytes) throw new SourceResolveError(`${rel} is too large: ${st.size} bytes, the limit is ${maxBytes}`, { path: rel, size: st.size, limit: maxBytes });
    // Read one byte past the limit: a file that grows after fstat is caught too.
    const buf = Buffer.alloc(maxBytes + 1);
    let n = 0;
    for (let r; n < buf.length && (r = await fh.read(buf, n, buf.length - n, n)).bytesRead > 0; ) n += r.bytesRead;
    if (n > maxBytes) throw new SourceResolveError(`${rel} is too large: over ${maxBytes} bytes`, { path: rel, limit: maxBytes });
    return buf.subarray(0, n);
  } finally {
    await fh.close();
  }
}

/** Belt and braces: whatever the checks above missed, the real path stays under the real root. */
async function assertUnder(root: string, path: string, rel: string): Promise<void> {
  const [realRoot, real] = await Promise.all([realpath(root), realpath(path)]);
  if (real !== realRoot && !real.startsWith(realRoot + sep)) throw new SourceResolveError(`${printable(rel)} leads outside the source tree`, { path: rel });
}

/**
 * Give `dir` and everything in it to uid:gid. Links are chowned themselves (lchown) and
 * never descended into: `readdir({ recursive: true })` follows links to directories, and
 * a link to /etc in a source tree would have handed the host's /etc to the build user.
 */
export async function chownTree(dir: string, uid: number, gid: number): Promise<void> {
  await lchown(dir, uid, gid);
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) await chownTree(path, uid, gid);
    else await lchown(path, uid, gid);
  }
}
