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

/** The answers without a message, made once: every file of a repo gets one (10,000 on a cold read). */
const PLAIN: { readonly [K in FileKind | 'key' | 'ignored']: Readonly<PathClass> } = Object.freeze({
  config: Object.freeze({ kind: 'config' }),
  package: Object.freeze({ kind: 'package' }),
  distribution: Object.freeze({ kind: 'distribution' }),
  key: Object.freeze({ kind: 'key' }),
  ignored: Object.freeze({ kind: 'ignored' }),
});

export function classifyPath(path: string, mode: string): PathClass {
  if (mode === MODE.symlink) return { kind: 'refused', error: 'symbolic links are not allowed in the metadata repo (commit the file itself)' };
  if (mode === MODE.submodule) return { kind: 'refused', error: 'git submodules are not allowed in the metadata repo' };
  if (path === METADATA_LAYOUT.config) return PLAIN.config;
  // The top directory and the rest of the path, found by index rather than a split and a join per file.
  const slash = path.indexOf('/');
  const top = slash < 0 ? path : path.slice(0, slash);
  const name = slash < 0 ? '' : path.slice(slash + 1);
  const inner = name.indexOf('/'); // ≥ 0: deeper than one level below top
  // Entries of the wrong type where the layout expects a file or a directory (trees are
  // seen only through the files under them, so those are what is classified here).
  if (top === METADATA_LAYOUT.config) return { kind: 'refused', error: `${METADATA_LAYOUT.config} must be a file, not a directory` };
  if (slash < 0 && (top === METADATA_LAYOUT.keysDir || DIRS[top])) return { kind: 'refused', error: `${top} must be a directory, not a file` };
  if (top === METADATA_LAYOUT.keysDir) return PLAIN.key;
  const kind = DIRS[top];
  if (!kind) return PLAIN.ignored;
  if (name.startsWith('.')) return PLAIN.ignored; // .gitkeep and friends
  if (inner >= 0 && /\.ya?ml$/.test(name.slice(0, inner))) return { kind: 'refused', error: `${top}/${name.slice(0, inner)} must be a file, not a directory` };
  if (inner >= 0) return { kind: 'ignored', warning: `ignored: ${top}/ files must sit directly in ${top}/, not in subdirectories` };
  if (name.endsWith('.yml')) return { kind: 'refused', error: `use the .yaml extension: rename to ${top}/${name.slice(0, -4)}.yaml` };
  if (!name.endsWith('.yaml')) return { kind: 'ignored', warning: `ignored: only .yaml files in ${top}/ are read` };
  return PLAIN[kind];
}
