// `kiln check --repo URL --rev feature` / `--pr 12`, and a pull_request webhook:
// a pull request's head is not on the branch the mirror tracks, so it is
// fetched just for the check — by name (a branch, a tag, or a full ref), by
// pull-request number (refs/pull/N/head, where GitHub, Gitea and Forgejo keep
// every PR's head, a fork's included), or by commit id (a ref of the remote
// that points at it).
import { NotFoundError } from '../../schema/errors.ts';
import { resolveCommit } from '../git/tree.ts';
import type { Mirror } from './mirror.ts';
import type { RemoteRefs } from './transport.ts';

const HEX = /^[0-9a-f]{4,40}$/;

/** Where the forges keep pull request `n`'s head. */
export const pullRequestRef = (n: number) => `refs/pull/${n}/head`;

/** Refs a commit id is looked for under, most likely first: branches, pull-request heads, tags. */
const RANK = [/^refs\/heads\//, /^refs\/pull\/\d+\/head$/, /^refs\/tags\//];
const rank = (ref: string) => {
  const i = RANK.findIndex((r) => r.test(ref));
  return i < 0 ? RANK.length : i;
};

export interface FetchRevisionOptions {
  /** The pull request `rev` belongs to: its head ref is fetched first (a fork's head lives only there). */
  pullRequest?: number;
}

async function inMirror(m: Mirror, rev: string): Promise<string | undefined> {
  try {
    return await resolveCommit(m.gitdir, rev, m.cache);
  } catch {
    return undefined;
  }
}

/** Fetch one remote ref into the mirror; its commit id. */
async function fetchRef(m: Mirror, ref: string, fetched: string[]): Promise<string> {
  const oid = (await m.transport.fetch([ref])).get(ref);
  if (!oid) throw new NotFoundError(`${m.transport.url}: ${ref} vanished while fetching it; try again`, { url: m.transport.url, ref }, { kind: 'transient' });
  fetched.push(ref);
  return oid;
}

/** The pull request's head, fetched from refs/pull/N/head. */
async function fetchPullRequest(m: Mirror, n: number, refs: RemoteRefs, fetched: string[]): Promise<string> {
  const ref = pullRequestRef(n);
  if (!refs.refs.has(ref)) throw new NotFoundError(`${m.transport.url}: no pull request #${n} (the remote has no ${ref})`, { url: m.transport.url, pullRequest: n, ref });
  return fetchRef(m, ref, fetched);
}

/** What the mirror was given, for an error that says where the commit was looked for. */
function lookedAt(m: Mirror, fetched: string[]): string {
  const tracked = m.remote.branch ? [m.remote.branch] : [];
  const all = [...new Set([...tracked, ...fetched])];
  return all.length ? `fetched ${all.join(', ')}` : 'fetched nothing yet';
}

/**
 * The commit `rev` names on the remote, brought into the mirror. `rev` may be a
 * branch, a tag, a full ref (refs/pull/12/head) or a commit id (maybe
 * abbreviated); undefined with `pullRequest`: that pull request's head.
 */
export async function fetchRevision(m: Mirror, rev: string | undefined, o: FetchRevisionOptions = {}): Promise<string> {
  const fetched: string[] = [];
  if (rev !== undefined && HEX.test(rev)) {
    // A commit the mirror already holds (the tracked branch, a fetched PR head, or one of their ancestors).
    const local = await inMirror(m, rev);
    if (local) return local;
  }
  const refs = await m.transport.listRefs();
  if (o.pullRequest !== undefined) {
    const head = await fetchPullRequest(m, o.pullRequest, refs, fetched);
    if (rev === undefined) return head;
    // An older commit of the pull request: an ancestor of its head, fetched with it.
    const local = HEX.test(rev) ? await inMirror(m, rev) : undefined;
    if (local) return local;
  }
  if (rev === undefined) throw new TypeError('fetchRevision: a revision or a pull request is needed');
  const named = (rev.startsWith('refs/') ? [rev] : [`refs/heads/${rev}`, `refs/tags/${rev}`]).find((r) => refs.refs.has(r));
  if (named) return fetchRef(m, named, fetched);
  if (!HEX.test(rev)) throw new NotFoundError(`${m.transport.url}: no branch, tag or ref '${rev}' on the remote (${lookedAt(m, fetched)})`, { url: m.transport.url, rev, fetched });
  // A ref of the remote that points at the commit: a PR from a fork has only refs/pull/N/head.
  const pointing = [...refs.refs].filter(([, oid]) => oid.startsWith(rev)).map(([ref]) => ref).sort((a, b) => rank(a) - rank(b));
  if (pointing.length) return fetchRef(m, pointing[0], fetched);
  throw new NotFoundError(
    `${m.transport.url}: no commit ${rev} in the mirror (${lookedAt(m, fetched)}), and no branch, tag or refs/pull/*/head of the remote points at it; ` +
      'for an older commit of a pull request pass --pr N (its refs/pull/N/head is fetched) or its branch',
    { url: m.transport.url, rev, fetched },
  );
}
