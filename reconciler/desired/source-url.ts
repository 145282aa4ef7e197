// Where agents fetch a package's source from: `source.git` as written,
// resolved to an absolute URL or path. Pure (path arithmetic only).
import { isAbsolute, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { quote } from '../../schema/quote.ts';

export type SourceUrl = { ok: true; url: string; local: boolean } | { ok: false; reason: string };

export function resolveSourceUrl(git: string, metadataDir: string): SourceUrl {
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
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(git) || /^[^/]+@[^/]+:/.test(git)) {
    return { ok: false, reason: `${quote(git)}: only http(s):// and file:// URLs or local paths are supported (ssh is not)` };
  }
  return { ok: true, url: isAbsolute(git) ? resolve(git) : resolve(metadataDir, git), local: true };
}
