// `kiln check --repo URL --rev feature`: a pull request's branch is not one the
// mirror tracks, so it is fetched by name (a branch, a tag, or a full ref such
// as GitHub's and Gitea's refs/pull/N/head) just for this check.
import { NotFoundError } from '../../schema/errors.ts';
import type { Mirror } from './mirror.ts';

const OID = /^[0-9a-f]{40}$/;
const HEX = /^[0-9a-f]{4,39}$/;

/** The commit `rev` names on the remote, fetched into the mirror (a full commit id is taken as is). */
export async function fetchRevision(m: Mirror, rev: string): Promise<string> {
  if (OID.test(rev)) return rev;
  const { refs } = await m.transport.listRefs();
  const ref = (rev.startsWith('refs/') ? [rev] : [`refs/heads/${rev}`, `refs/tags/${rev}`]).find((r) => refs.has(r));
  // A commit id (maybe abbreviated) the mirror already holds, e.g. from the tracked branch: resolved locally.
  if (!ref && HEX.test(rev)) return rev;
  if (!ref) throw new NotFoundError(`${m.transport.url}: no branch, tag or ref '${rev}' on the remote`, { url: m.transport.url, rev });
  const oid = (await m.transport.fetch([ref])).get(ref);
  if (!oid) throw new NotFoundError(`${m.transport.url}: '${rev}' vanished while fetching it; try again`, { url: m.transport.url, rev }, { kind: 'transient' });
  return oid;
}
