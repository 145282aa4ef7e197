// The source package a build left next to its tree (dpkg-buildpackage's
// sourceful build writes NAME_VERSION.dsc and the tarballs it lists): the .dsc
// and exactly the files its Checksums-Sha256 / Files lists name, so a stray
// tarball in the parent directory is never uploaded as part of it. Regular
// files only: the build is untrusted and may leave symlinks.
import { lstat, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/** A .dsc is a few KiB; anything far bigger is not one. */
const MAX_DSC_BYTES = 1 << 20;
/** File names a .dsc may list (no path separators, no leading dot). */
const SOURCE_PART = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;

/** Pure: the file names a .dsc lists (Checksums-Sha256, else Files), in order, unsafe names dropped. */
export function dscListedFiles(dsc: string): string[] {
  const lines = dsc.replace(/\r\n?/g, '\n').split('\n');
  for (const field of ['Checksums-Sha256:', 'Files:']) {
    const start = lines.findIndex((l) => l.trim().toLowerCase() === field.toLowerCase());
    if (start < 0) continue;
    const names: string[] = [];
    for (const l of lines.slice(start + 1)) {
      if (!/^[ \t]/.test(l)) break;
      const name = l.trim().split(/\s+/)[2];
      if (name && SOURCE_PART.test(name) && !names.includes(name)) names.push(name);
    }
    return names;
  }
  return [];
}

const isRegular = (p: string) => lstat(p).then((s) => s.isFile(), () => false);

/** Absolute paths of every .dsc in `dir` and the files each lists that are there. */
export async function collectSourcePackage(dir: string): Promise<string[]> {
  const out = new Set<string>();
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (!e.isFile() || !e.name.endsWith('.dsc')) continue;
    const dsc = join(dir, e.name);
    if ((await lstat(dsc)).size > MAX_DSC_BYTES) continue;
    out.add(dsc);
    for (const name of dscListedFiles(await readFile(dsc, 'utf8'))) if (await isRegular(join(dir, name))) out.add(join(dir, name));
  }
  return [...out].sort();
}
