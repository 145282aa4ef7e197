// Where things live in one distribution's apt repository (paths relative to
// ROOT/<dist>). One repository per distribution: its own pool, suite and key.
import type { AptDistribution } from '../../model.ts';

/** Debian binary file names as they may appear in a pool (no path separators, no leading dot). */
export const DEB_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+~-]*\.deb$/;
/** Files of a source package as dpkg-source names them: the .dsc, tarballs (orig, debian, native, component), 1.0 diffs, upstream signatures. */
export const SOURCE_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+~-]*\.(dsc|tar|tar\.(gz|xz|bz2|lzma)|diff\.gz|asc)$/;
/** Source package names (Debian policy), also safe as a path segment. */
export const SOURCE_NAME = /^[a-z0-9][a-z0-9+.-]+$/;

/** Kiln's own bookkeeping in a repository (state, lock): never served. */
export const STATE_DIR = '.kiln';
export const STATE_FILE = `${STATE_DIR}/state.json`;
export const POOL_DIR = 'pool';
export const BY_HASH = 'by-hash/SHA256';

/** Debian's pool fan-out: libfoo -> libf, hello -> h. */
export function poolPrefix(source: string): string {
  return source.startsWith('lib') && source.length > 3 ? source.slice(0, 4) : source[0];
}

export function poolPath(component: string, source: string, fileName: string): string {
  return `${POOL_DIR}/${component}/${poolPrefix(source)}/${source}/${fileName}`;
}

export const suiteDir = (suite: string) => `dists/${suite}`;
/** An index directory relative to the suite directory, as Release names it. */
export const indexDir = (component: string, arch: string) => `${component}/binary-${arch}`;
/** The source index directory of a component, relative to the suite directory. */
export const sourceIndexDir = (component: string) => `${component}/source`;
export const keyFileName = (dist: string) => `${dist}-archive-keyring.asc`;

/** The architectures that get binary-<arch> indexes: `all` packages go into each of them. */
export function indexArchitectures(dist: Pick<AptDistribution, 'architectures'>): string[] {
  const arches = dist.architectures.filter((a) => a !== 'all');
  return arches.length ? [...arches].sort() : ['all'];
}

export function components(dist: Pick<AptDistribution, 'components'>): string[] {
  return dist.components.length ? dist.components : ['main'];
}
