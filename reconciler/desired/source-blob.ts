// One file of a package's source at its pinned commit, read without a
// checkout: a local repository's blob straight from its object store
// (isomorphic-git); an HTTP source by a depth-1 fetch of the ref into a
// temporary bare repo (a full fetch only when the pinned commit is no longer
// the ref's tip), removed afterwards. Used for debian/control and rpm specs.
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { SourceResolveError } from '../../schema/errors.ts';
import { printable } from '../../schema/quote.ts';
import { repoArgs } from '../git/tree.ts';

export interface SourceAt {
  url: string;
  ref: string;
  commit: string;
}

/** The blob's object id and bytes. */
export interface SourceBlob {
  oid: string;
  bytes: Uint8Array;
}

const FULL_OID = /^[0-9a-f]{40}$/;

async function readBlobAt(args: { dir: string } | { gitdir: string }, commit: string, filepath: string): Promise<SourceBlob | undefined> {
  try {
    const { oid, blob } = await git.readBlob({ fs, ...args, oid: commit, filepath });
    return { oid, bytes: blob };
  } catch (e) {
    if ((e as { code?: string }).code === 'NotFoundError') return undefined;
    throw e;
  }
}

const hasObject = (gitdir: string, oid: string) =>
  git.readCommit({ fs, gitdir, oid }).then(
    () => true,
    () => false,
  );

/** A depth-1 fetch of `ref`; when the pinned commit is not its tip, a full fetch into a fresh repo (a shallow one cannot be deepened). */
async function readRemote(src: SourceAt, filepath: string, headers?: Record<string, string>): Promise<SourceBlob | undefined> {
  // A ref that is itself a commit id cannot be asked for shallowly by name.
  const attempts = FULL_OID.test(src.ref) ? [undefined] : [1, undefined];
  for (const depth of attempts) {
    const gitdir = await mkdtemp(join(tmpdir(), 'kiln-source-blob-'));
    try {
      await git.init({ fs, gitdir, bare: true });
      await git.addRemote({ fs, gitdir, remote: 'origin', url: src.url });
      try {
        await git.fetch({ fs, http, gitdir, url: src.url, headers, ...(depth ? { ref: src.ref, singleBranch: true, depth, tags: false } : { tags: true }) });
      } catch (e) {
        throw new SourceResolveError(`cannot fetch ${printable(src.url)} to read ${filepath}: ${(e as Error).message}`, { url: src.url, ref: src.ref }, { cause: e, kind: 'transient' });
      }
      if (!(await hasObject(gitdir, src.commit))) continue;
      return await readBlobAt({ gitdir }, src.commit, filepath);
    } finally {
      await rm(gitdir, { recursive: true, force: true });
    }
  }
  throw new SourceResolveError(`no commit ${src.commit} in ${printable(src.url)} to read ${filepath} from`, { url: src.url, ref: src.ref }, { kind: 'transient' });
}

/** `filepath` at `src.commit`; undefined when the commit has no such file. Throws SourceResolveError (transient) when a remote cannot be reached. */
export function readSourceBlob(src: SourceAt, filepath: string, headers?: Record<string, string>): Promise<SourceBlob | undefined> {
  return /^https?:\/\//i.test(src.url) ? readRemote(src, filepath, headers) : readBlobAt(repoArgs(src.url), src.commit, filepath);
}
