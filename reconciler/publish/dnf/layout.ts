// Where things live in one distribution's dnf repository (paths relative to
// ROOT/<dist>). One repository per distribution: its packages, its repodata/,
// its key and a .repo file users drop into /etc/yum.repos.d/.
export { STATE_DIR } from '../apt/layout.ts';

export const PACKAGES_DIR = 'packages';
export const REPODATA_DIR = 'repodata';
export const REPOMD = `${REPODATA_DIR}/repomd.xml`;
export const REPOMD_SIG = `${REPODATA_DIR}/repomd.xml.asc`;
export const DNF_STATE_FILE = '.kiln/dnf-state.json';
/** Where createrepo_c writes the next repodata before it is moved in. */
export const STAGE_DIR = '.kiln/stage';

export const keyFileName = (dist: string) => `RPM-GPG-KEY-${dist}`;
export const repoFileName = (dist: string) => `${dist}.repo`;

/** rpm file names as published: NAME-VERSION-RELEASE.ARCH.rpm, no path separators, no leading dot. */
export const RPM_FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._+~^-]*\.rpm$/;

/** The conventional file name of a package (the epoch is not part of it). */
export function rpmFileName(h: { name: string; version: string; release: string; arch: string; source: boolean }): string {
  return `${h.name}-${h.version}-${h.release}.${h.source ? 'src' : h.arch}.rpm`;
}

/**
 * Where a signed rpm is served: packages/<file> the first time, and a new signature of an rpm
 * already served (key renewal, key change) under packages/<first 16 hex of its sha256>/<file>.
 * A served file never changes under its name, so createrepo_c's location href changes with the
 * bytes and readers of the previous repodata keep the files it names.
 */
export const resignedPath = (file: string, sha256: string) => `${PACKAGES_DIR}/${sha256.slice(0, 16)}/${file}`;
/** A subdirectory of packages/ holding re-signed rpms. */
export const RESIGNED_DIR = /^[0-9a-f]{16}$/;
/** A re-signed rpm's path: it never changes under it. */
export const RESIGNED_RPM = /^packages\/[0-9a-f]{16}\/[^/]+\.rpm$/;

/** A repodata file createrepo_c names by its checksum: it never changes under its name. */
export const HASHED_REPODATA = /^repodata\/[0-9a-f]{64}-[A-Za-z0-9_.-]+$/;
