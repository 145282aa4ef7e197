// Where agents fetch a package's source from: `source.git` as written,
// resolved to an absolute URL or path. A relative one is resolved against the
// metadata repo: its directory, or — when the reconciler reads a mirror of a
// remote metadata repo — the remote's URL, as git resolves a submodule's
// relative URL (`../hello` next to https://host/team/meta.git is
// https://host/team/hello). Pure (path and URL arithmetic only).
import { isAbsolute, posix, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quote } from '../../schema/quote.ts';

export type SourceUrl = { ok: true; url: string; local: boolean } | { ok: false; reason: string };

const SCHEME = /^[a-z][a-z0-9+.-]*:\/\//i;
const SCP_LIKE = /^[^/]+@[^/]+:/;

/** What relative sources are resolved against: the metadata repo's directory, or its remote's URL. */
export type SourceBase = { kind: 'dir'; dir: string } | { kind: 'url'; url: string };

/** `rel` against a remote URL, the way git resolves a submodule's relative URL against its superproject's. */
export function relativeToRemote(rel: string, remote: string): string {
  const base = remote.replace(/\/+$/, '');
  if (SCHEME.test(base)) return new URL(rel, `${base}/`).href;
  // user@host:path — no URL syntax to lean on.
  const colon = base.indexOf(':');
  const joined = posix.normalize(posix.join(base.slice(colon + 1), rel));
  return `${base.slice(0, colon + 1)}${joined}`;
}

export function resolveSourceUrl(git: string, base: string | SourceBase): SourceUrl {
  const b: SourceBase = typeof base === 'string' ? { kind: 'dir', dir: base } : base;
  if (/^https?:\/\//i.test(git)) {
    try {
      new URL(git);
    } catch {
      return { ok: false, reason: `${quote(git)} is not a valid URL` };
    }
    return { ok: true, url: git, local: false };
  }
  if (/^file:\/\//i.test(git)) {
    try {
      return { ok: true, url: fileURLToPath(git), local: true };
    } catch (e) {
      return { ok: false, reason: `${quote(git)} is not a valid file URL: ${(e as Error).message}` };
    }
  }
  if (SCHEME.test(git) || SCP_LIKE.test(git)) {
    return { ok: false, reason: `${quote(git)}: only http(s):// and file:// URLs or local paths are supported (ssh is not)` };
  }
  if (isAbsolute(git)) return { ok: true, url: resolve(git), local: true };
  if (b.kind === 'dir') return { ok: true, url: resolve(b.dir, git), local: true };
  const url = relativeToRemote(git, b.url);
  const r = resolveSourceUrl(url, { kind: 'dir', dir: '/' });
  return r.ok ? r : { ok: false, reason: `${quote(git)} is relative to the metadata repo's URL, which makes it ${quote(url)}: ${r.reason.replace(/^.*?: /, '')}` };
}
