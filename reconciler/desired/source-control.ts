// debian/control of a package's source at its pinned commit, read without a
// checkout: a local repository's blob straight from its object store
// (isomorphic-git); an HTTP source by a depth-1 fetch of the ref into a
// temporary bare repo (a full fetch only when the pinned commit is no longer
// the ref's tip), removed afterwards. Remembered per (url, commit, subdir):
// an object id names the same tree for ever, so each is read once a process.
import fs from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { parseBinaries, parseBuildDepends, type Relation } from '../../debian/control.ts';
import { BuildDepsError, SourceResolveError } from '../../schema/errors.ts';
import { printable } from '../../schema/quote.ts';
import { repoArgs } from '../git/tree.ts';

/** What a source's debian/control says, or why it could not be used (that package is not built). */
import type { SourceControl } from '../model.ts';
export type { SourceControl };

export interface ControlSource {
  url: string;
  ref: string;
  commit: string;
  subdir?: string;
}

/** Read and parse debian/control at `commit`; throws only for transient trouble (a remote that cannot be reached). */
export type ControlReader = (src: ControlSource) => Promise<SourceControl>;

/** debian/control is a few KiB; anything bigger is not one. */
export const MAX_CONTROL_BYTES = 1 << 20;

const FULL_OID = /^[0-9a-f]{40}$/;
const controlPath = (subdir?: string) => posix.join(subdir ?? '', 'debian/control');

async function readBlobAt(args: { dir: string } | { gitdir: string }, commit: string, filepath: string): Promise<Uint8Array | undefined> {
  try {
    return (await git.readBlob({ fs, ...args, oid: commit, filepath })).blob;
  } catch (e) {
    if ((e as { code?: string }).code === 'NotFoundError') return undefined;
    throw e;
  }
}

/** A depth-1 fetch of `ref`; when the pinned commit is not its tip, a full fetch into a fresh repo (a shallow one cannot be deepened). */
async function readRemote(src: ControlSource, filepath: string, headers?: Record<string, string>): Promise<Uint8Array | undefined> {
  // A ref that is itself a commit id cannot be asked for shallowly by name.
  const attempts = FULL_OID.test(src.ref) ? [undefined] : [1, undefined];
  for (const depth of attempts) {
    const gitdir = await mkdtemp(join(tmpdir(), 'kiln-control-'));
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

const hasObject = (gitdir: string, oid: string) =>
  git.readCommit({ fs, gitdir, oid }).then(
    () => true,
    () => false,
  );

/** Parse control text; a bad relation or binary name becomes a message naming repo, commit and line. */
export function interpretControl(src: ControlSource, bytes: Uint8Array | undefined): SourceControl {
  const where = `${printable(src.url)} at ${src.commit.slice(0, 12)}: ${controlPath(src.subdir)}`;
  // No dependencies to order by; the build itself reports the missing file.
  if (!bytes) return { ok: true, binaries: [], buildDepends: [] };
  if (bytes.length > MAX_CONTROL_BYTES) return { ok: false, message: `${where} is ${bytes.length} bytes; the limit is ${MAX_CONTROL_BYTES}` };
  const text = Buffer.from(bytes).toString('utf8');
  try {
    return { ok: true, binaries: parseBinaries(text, where).map((b) => b.name), buildDepends: parseBuildDepends(text, where) };
  } catch (e) {
    if (e instanceof BuildDepsError) return { ok: false, message: e.message };
    throw e;
  }
}

export function defaultControlReader(opts: { headers?: Record<string, string> } = {}): ControlReader {
  const memo = new Map<string, Promise<SourceControl>>();
  return (src) => {
    const key = `${src.url}\n${src.commit}\n${src.subdir ?? ''}`;
    let hit = memo.get(key);
    if (!hit) {
      const filepath = controlPath(src.subdir);
      const read = /^https?:\/\//i.test(src.url) ? readRemote(src, filepath, opts.headers) : readBlobAt(repoArgs(src.url), src.commit, filepath);
      hit = read.then((bytes) => interpretControl(src, bytes));
      // A transient failure is not remembered: the next pass tries again.
      hit.catch(() => memo.delete(key));
      memo.set(key, hit);
    }
    return hit;
  };
}
