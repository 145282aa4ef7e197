// Source refs -> commit ids. Injected into readDesired so tests and callers can
// swap it; the default reads local repositories (a path or file:// URL) with
// isomorphic-git and asks smart-HTTP remotes for their refs (no clone). A full
// commit id is checked too (that it exists and is a commit; tags are peeled),
// so a bad pin is a validation error here, not a failed build on every agent.
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { NotFoundError, SourceResolveError } from '../../schema/errors.ts';
import { resolveCommit, type GitCache } from '../git/tree.ts';
import { remoteCommit } from './remote-commit.ts';
import { printable, quote } from '../../schema/quote.ts';

/**
 * Resolve `ref` in the repository at `url` (absolute path or http(s) URL).
 * Throws SourceResolveError with data.missing = 'repo' | 'ref' for bad input,
 * or data.missing = undefined when the remote could not be reached (transient).
 */
export type SourceResolver = (url: string, ref: string) => Promise<string>;

const FULL_OID = /^[0-9a-f]{40}$/;

export function defaultSourceResolver(opts: { cache?: GitCache; headers?: Record<string, string> } = {}): SourceResolver {
  const caches = new Map<string, GitCache>();
  return async (url, ref) => {
    if (/^https?:\/\//i.test(url)) return resolveRemote(url, ref, opts.headers);
    let cache = opts.cache ?? caches.get(url);
    if (!cache) caches.set(url, (cache = {}));
    try {
      return await resolveCommit(url, ref, cache);
    } catch (e) {
      if (e instanceof NotFoundError) throw new SourceResolveError(e.message, { url, ref, missing: e.data.missing ?? 'ref' }, { cause: e });
      throw e;
    }
  };
}

async function resolveRemote(url: string, ref: string, headers?: Record<string, string>): Promise<string> {
  let refs: Awaited<ReturnType<typeof git.listServerRefs>>;
  try {
    refs = await git.listServerRefs({ http, url, headers, symrefs: true, peelTags: true });
  } catch (e) {
    const status = (e as { data?: { statusCode?: number } }).data?.statusCode;
    if (status === 404) throw new SourceResolveError(`no git repository at ${printable(url)} (HTTP 404)`, { url, ref, missing: 'repo' }, { cause: e });
    throw new SourceResolveError(`cannot list refs of ${printable(url)}: ${(e as Error).message}`, { url, ref }, { cause: e, kind: 'transient' });
  }
  for (const candidate of [ref, `refs/heads/${ref}`, `refs/tags/${ref}`]) {
    const hit = refs.find((r) => r.ref === candidate);
    if (hit) return hit.peeled ?? hit.oid;
  }
  if (FULL_OID.test(ref)) {
    // A branch tip or tag the server advertises needs no clone; any other id does.
    const tip = refs.find((r) => r.oid === ref || r.peeled === ref);
    return tip ? (tip.peeled ?? tip.oid) : remoteCommit(url, ref, headers);
  }
  throw new SourceResolveError(`no branch or tag named ${quote(ref)} at ${printable(url)}`, { url, ref, missing: 'ref' });
}
