// Maps a request URL path to a file under the served root, or refuses it.
// Pure, so the traversal rules are unit-tested: no '..', no dot-files (which
// hides .kiln/ state and temp files), no NUL or backslash, no encoded '/'.

import { RELEASE_TARGETS } from '../release-targets/index.ts';

export type PathVerdict = { ok: true; rel: string } | { ok: false; status: 400 | 404; reason: string };

export function resolveRequestPath(urlPath: string): PathVerdict {
  const raw = urlPath.split('?')[0].split('#')[0];
  if (!raw.startsWith('/')) return { ok: false, status: 400, reason: 'path must start with /' };
  const segments: string[] = [];
  for (const enc of raw.split('/')) {
    if (enc === '') continue;
    let seg: string;
    try {
      seg = decodeURIComponent(enc);
    } catch {
      return { ok: false, status: 400, reason: 'bad percent-encoding' };
    }
    if (seg.includes('/') || seg.includes('\\') || seg.includes('\0')) return { ok: false, status: 400, reason: 'bad character in path' };
    if (seg === '..' || seg === '.') return { ok: false, status: 400, reason: 'dot segments are not served' };
    if (isHidden(seg)) return { ok: false, status: 404, reason: 'hidden files are not served' };
    segments.push(seg);
  }
  if (segments.length === 0) return { ok: false, status: 404, reason: 'no file named' };
  return { ok: true, rel: segments.join('/') };
}

/** Dot-files and dot-directories (.kiln/ state, temp files) are never served. */
export function isHidden(segment: string): boolean {
  return segment.startsWith('.');
}

/**
 * The rules again, on the path a request RESOLVED to (after symlinks): `real` must be
 * strictly under `root` and hide nothing, or a link could serve what the URL may not name.
 */
export function resolvedPathAllowed(root: string, real: string, sep = '/'): boolean {
  if (!real.startsWith(root + sep)) return false;
  return !real.slice(root.length + 1).split(sep).some(isHidden);
}

/** True when the client's copy (If-Modified-Since) is as new as the file; HTTP dates have whole seconds. */
export function notModified(ifModifiedSince: string | undefined, mtimeMs: number): boolean {
  if (!ifModifiedSince) return false;
  const since = Date.parse(ifModifiedSince);
  return Number.isFinite(since) && Math.floor(mtimeMs / 1000) * 1000 <= since;
}

// Types every target shares; each release target adds its own (release-targets/*: contentType).
const TYPES: Record<string, string> = {
  '.gz': 'application/gzip',
  '.xz': 'application/x-xz',
  '.asc': 'application/pgp-keys',
  '.gpg': 'application/pgp-signature',
  '.json': 'application/json',
};

export function contentType(rel: string): string {
  const base = rel.slice(rel.lastIndexOf('/') + 1);
  const dot = base.lastIndexOf('.');
  const known = RELEASE_TARGETS.map((t) => t.contentType(rel)).find((t) => t !== undefined);
  return known ?? ((dot > 0 && TYPES[base.slice(dot)]) || 'application/octet-stream');
}

/**
 * What a release target says never changes under its name (apt: pool files and
 * by-hash indexes) caches may keep. Everything else (apt: InRelease, Release,
 * named indexes, the key) must be revalidated.
 */
export function cacheControl(rel: string): string {
  return RELEASE_TARGETS.some((t) => t.immutable(rel)) ? 'public, max-age=31536000, immutable' : 'no-cache';
}
