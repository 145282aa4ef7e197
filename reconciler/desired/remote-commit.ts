// Is a full commit id that no branch or tag of a smart-HTTP source names really a
// commit there? The refs a server advertises cannot say, so the repository is
// cloned (no checkout) into a temp dir, asked, and removed. Found commits are
// remembered for the process: an object id names the same object forever.
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { SourceResolveError } from '../../schema/errors.ts';
import { printable } from '../../schema/quote.ts';

const found = new Map<string, string>();

/** The commit `oid` names at `url` (a tag object is peeled); SourceResolveError with missing: 'ref' when there is none. */
export async function remoteCommit(url: string, oid: string, headers?: Record<string, string>): Promise<string> {
  const key = `${url}\n${oid}`;
  const known = found.get(key);
  if (known) return known;
  const dir = await mkdtemp(join(tmpdir(), 'kiln-source-check-'));
  try {
    try {
      await git.clone({ fs, http, dir, gitdir: dir, url, headers, noCheckout: true, singleBranch: false, noTags: false });
    } catch (e) {
      throw new SourceResolveError(`cannot clone ${printable(url)} to check commit ${oid}: ${(e as Error).message}`, { url, ref: oid }, { cause: e, kind: 'transient' });
    }
    const commit = await peel(dir, oid, url);
    found.set(key, commit);
    return commit;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function peel(gitdir: string, oid: string, url: string): Promise<string> {
  for (let depth = 0; depth < 10; depth++) {
    const obj = await git.readObject({ fs, gitdir, oid, format: 'parsed' }).catch(() => undefined);
    if (!obj) throw new SourceResolveError(`no commit ${oid} in ${printable(url)} (no branch or tag reaches it)`, { url, ref: oid, missing: 'ref' });
    if (obj.type === 'commit') return oid;
    if (obj.type !== 'tag') throw new SourceResolveError(`${oid} names a ${obj.type} in ${printable(url)}, not a commit`, { url, ref: oid, missing: 'ref' });
    oid = (obj.object as { object: string }).object;
  }
  throw new SourceResolveError(`${oid}: tag chain too deep in ${printable(url)}`, { url, ref: oid, missing: 'ref' });
}
