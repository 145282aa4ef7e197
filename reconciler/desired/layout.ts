// Which metadata-repo paths mean what. Pure: a path and its git mode in, a
// classification (or the reason it is refused) out.
import { METADATA_LAYOUT } from '../../schema/metadata.ts';
import type { FileKind } from './parse-file.ts';
import { MODE } from '../git/tree.ts';

export type PathClass =
  | { kind: FileKind }
  | { kind: 'key' }
  | { kind: 'ignored'; warning?: string }
  | { kind: 'refused'; error: string };

/** The top-level prefixes the reader looks at (everything else in the repo is ignored). */
export const METADATA_PREFIXES = [METADATA_LAYOUT.config, METADATA_LAYOUT.packagesDir, METADATA_LAYOUT.distributionsDir, METADATA_LAYOUT.keysDir];

const DIRS: Record<string, FileKind> = { [METADATA_LAYOUT.packagesDir]: 'package', [METADATA_LAYOUT.distributionsDir]: 'distribution' };

export function classifyPath(path: string, mode: string): PathClass {
  if (mode === MODE.symlink) return { kind: 'refused', error: 'symbolic links are not allowed in the metadata repo (commit the file itself)' };
  if (mode === MODE.submodule) return { kind: 'refused', error: 'git submodules are not allowed in the metadata repo' };
  if (path === METADATA_LAYOUT.config) return { kind: 'config' };
  const [top, ...rest] = path.split('/');
  // Entries of the wrong type where the layout expects a file or a directory (trees are
  // seen only through the files under them, so those are what is classified here).
  if (top === METADATA_LAYOUT.config) return { kind: 'refused', error: `${METADATA_LAYOUT.config} must be a file, not a directory` };
  if (rest.length === 0 && (top === METADATA_LAYOUT.keysDir || DIRS[top])) return { kind: 'refused', error: `${top} must be a directory, not a file` };
  if (top === METADATA_LAYOUT.keysDir) return { kind: 'key' };
  const kind = DIRS[top];
  if (!kind) return { kind: 'ignored' };
  const name = rest.join('/');
  if (name.startsWith('.')) return { kind: 'ignored' }; // .gitkeep and friends
  if (rest.length > 1 && /\.ya?ml$/.test(rest[0])) return { kind: 'refused', error: `${top}/${rest[0]} must be a file, not a directory` };
  if (rest.length > 1) return { kind: 'ignored', warning: `ignored: ${top}/ files must sit directly in ${top}/, not in subdirectories` };
  if (name.endsWith('.yml')) return { kind: 'refused', error: `use the .yaml extension: rename to ${top}/${name.slice(0, -4)}.yaml` };
  if (!name.endsWith('.yaml')) return { kind: 'ignored', warning: `ignored: only .yaml files in ${top}/ are read` };
  return { kind };
}
