// Where signed rpms are served in a dnf repository (layout.ts, resignedPath): a
// file never changes under its name. A signed temp copy is moved to its plain
// name when nothing is or was served there, else to its content-addressed path.
import { link, mkdir, readdir, rename, rmdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { PACKAGES_DIR, RESIGNED_DIR, resignedPath } from './layout.ts';

/** The files under packages/ as paths relative to the repository: packages/<file> and packages/<hex16>/<file>. */
export async function listServed(repoDir: string): Promise<string[]> {
  const top = await readdir(join(repoDir, PACKAGES_DIR), { withFileTypes: true }).catch(() => []);
  const out: string[] = [];
  for (const e of top) {
    if (e.isFile()) out.push(`${PACKAGES_DIR}/${e.name}`);
    else if (e.isDirectory() && RESIGNED_DIR.test(e.name)) {
      for (const n of await readdir(join(repoDir, PACKAGES_DIR, e.name)).catch(() => [] as string[])) out.push(`${PACKAGES_DIR}/${e.name}/${n}`);
    }
  }
  return out;
}

/** The served name of an rpm (its file name, whichever directory it is in): what records and messages call it. */
export const servedName = (rel: string) => basename(rel);

/** Where a new signed copy of `file` is served: its plain path unless `taken` holds it (served or recorded), else its content-addressed path; taken at once, before any await (calls may overlap). */
function takeServedPath(file: string, sha256: string, taken: Set<string>): string {
  const plain = `${PACKAGES_DIR}/${file}`;
  const rel = taken.has(plain) ? resignedPath(file, sha256) : plain;
  taken.add(rel);
  return rel;
}

/** packages/ itself the caller made (one mkdir for thousands of files); a packages/<hex16>/ is made here. */
async function makeParent(repoDir: string, rel: string, file: string): Promise<void> {
  if (rel !== `${PACKAGES_DIR}/${file}`) await mkdir(join(repoDir, rel, '..'), { recursive: true, mode: 0o755 });
}

/** Rename a signed temp copy to where it is served; `taken`: paths served or recorded (never overwritten). Returns that path. */
export async function placeSigned(repoDir: string, tmp: string, file: string, sha256: string, taken: Set<string>): Promise<string> {
  const rel = takeServedPath(file, sha256, taken);
  await makeParent(repoDir, rel, file);
  await rename(tmp, join(repoDir, rel));
  return rel;
}

/** Hard-link `from` (a cache entry) to where it is served, as placeSigned: a link appears whole, so no temp name. Returns that path; on failure the path is given back and the error thrown. */
export async function linkSigned(repoDir: string, from: string, file: string, sha256: string, taken: Set<string>): Promise<string> {
  const rel = takeServedPath(file, sha256, taken);
  try {
    await makeParent(repoDir, rel, file);
    await link(from, join(repoDir, rel));
  } catch (e) {
    taken.delete(rel);
    throw e;
  }
  return rel;
}

/** Remove packages/<hex16>/ directories left empty by pruning. */
export async function removeEmptyDirs(repoDir: string): Promise<void> {
  const top = await readdir(join(repoDir, PACKAGES_DIR), { withFileTypes: true }).catch(() => []);
  for (const e of top) if (e.isDirectory() && RESIGNED_DIR.test(e.name)) await rmdir(join(repoDir, PACKAGES_DIR, e.name)).catch(() => undefined);
}
