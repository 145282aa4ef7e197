// Fetch a job's source tree at its pinned commit into a fresh directory, with
// isomorphic-git (no git binary on build hosts). Local repos are read in place,
// read-only; http(s) repos are cloned first (into a per-agent cache, or scratch). The tree is
// then exported file by file (like `git archive`), so nothing is written to the
// source repository and the result is exactly the pinned commit's tree.
// The tree is untrusted: it is written without following anything it contains
// (a symlink in it is written as a link, never written through), and what the
// agent reads back from it goes through source-tree.ts.
import * as fs from 'node:fs';
import { createHash } from 'node:crypto';
import { chmod, mkdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import type { Logger } from 'pino';
import { SourceResolveError } from '../schema/errors.ts';
import { realDirUnder } from './source-tree.ts';
import { quote } from '../schema/quote.ts';

export interface SourceSpec {
  url: string;
  commit: string;
  subdir?: string;
}

export interface FetchedSource {
  /** The exported tree. */
  dir: string;
  /** dir + subdir. */
  buildDir: string;
  /** The full commit id that was exported (equals the pinned one). */
  commit: string;
  files: number;
}

const HEX = /^[0-9a-f]{4,40}$/;

/** Where the source lives: a local gitdir to read, or a remote URL to clone. */
export function sourceLocation(url: string): { kind: 'local'; path: string } | { kind: 'http'; url: string } {
  if (/^https?:\/\//.test(url)) return { kind: 'http', url };
  if (url.startsWith('file://')) return { kind: 'local', path: fileURLToPath(url) };
  if (isAbsolute(url)) return { kind: 'local', path: url };
  throw new SourceResolveError(`source url ${quote(url)}: only absolute paths, file:// and http(s):// URLs are supported`, { url });
}

/** A subdir inside the tree, never outside it. */
export function safeSubdir(subdir: string | undefined): string {
  if (!subdir) return '';
  const parts = subdir.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.some((p) => p === '..') || subdir.startsWith('/')) {
    throw new SourceResolveError(`source subdir ${quote(subdir)} must be a relative path inside the repository`, { subdir });
  }
  return parts.join('/');
}

async function localGitdir(path: string): Promise<string> {
  const dotgit = join(path, '.git');
  if ((await stat(dotgit).catch(() => undefined))?.isDirectory()) return dotgit;
  if ((await stat(join(path, 'objects')).catch(() => undefined))?.isDirectory()) return path; // bare
  throw new SourceResolveError(`source ${quote(path)} is not a git repository`, { path });
}

async function cloneHttp(url: string, dir: string, cache: object, log: Logger): Promise<string> {
  const gitdir = join(dir, 'git');
  const t0 = Date.now();
  try {
    await git.clone({ fs, http, dir, gitdir, url, noCheckout: true, singleBranch: false, noTags: true, cache });
  } catch (e) {
    throw new SourceResolveError(`cannot clone ${url}: ${(e as Error).message}`, { url }, { cause: e, kind: 'transient' });
  }
  log.debug({ url, ms: Date.now() - t0 }, 'cloned source');
  return gitdir;
}

async function hasCommit(gitdir: string, oid: string, cache: object): Promise<boolean> {
  try {
    const full = oid.length === 40 ? oid : await git.expandOid({ fs, gitdir, oid, cache });
    await git.readCommit({ fs, gitdir, oid: full, cache });
    return true;
  } catch {
    return false;
  }
}

/** Serialises use of one cached clone within this process (callers use per-agent cache dirs). */
const cacheLocks = new Map<string, Promise<unknown>>();
async function withLock<T>(key: string, f: () => Promise<T>): Promise<T> {
  const prev = cacheLocks.get(key) ?? Promise.resolve();
  const next = prev.catch(() => undefined).then(f);
  cacheLocks.set(key, next);
  try {
    return await next;
  } finally {
    if (cacheLocks.get(key) === next) cacheLocks.delete(key);
  }
}

/**
 * A remote repo kept between jobs under cacheDir: cloned once, then fetched only
 * when the pinned commit is missing. A clone broken by a kill mid-write is
 * dropped and made again, so a bad cache costs one clone, never a build.
 */
async function cachedRemote(url: string, commit: string, cacheDir: string, cache: object, log: Logger): Promise<string> {
  const dir = join(cacheDir, createHash('sha256').update(url).digest('hex').slice(0, 24));
  const gitdir = join(dir, 'git');
  const fresh = async () => {
    await rm(dir, { recursive: true, force: true });
    return cloneHttp(url, dir, cache, log);
  };
  if (!(await stat(join(gitdir, 'HEAD')).catch(() => undefined))) return fresh();
  if (await hasCommit(gitdir, commit, cache)) return gitdir;
  try {
    await git.fetch({ fs, http, dir, gitdir, url, singleBranch: false, tags: false, cache });
    // Fetched fine: if the commit is still missing, it is not on the server either.
    return gitdir;
  } catch (e) {
    log.warn({ url, err: (e as Error).message }, 'cached clone unusable; cloning afresh');
    return fresh();
  }
}

async function resolveCommit(gitdir: string, pinned: string, cache: object): Promise<string> {
  if (!HEX.test(pinned)) throw new SourceResolveError(`pinned commit ${quote(pinned)} is not a hex commit id`, { commit: pinned });
  try {
    const oid = pinned.length === 40 ? pinned : await git.expandOid({ fs, gitdir, oid: pinned, cache });
    const { oid: got } = await git.readCommit({ fs, gitdir, oid, cache });
    if (!got.startsWith(pinned)) throw new Error(`resolved to ${got}`);
    return got;
  } catch (e) {
    // The reconciler checked that the commit exists before dispatching: missing here means this
    // agent's view of the source (its mirror, its path) is behind, which another try may not be.
    throw new SourceResolveError(`commit ${pinned} not found in the source repository: ${(e as Error).message}`, { commit: pinned }, { cause: e, kind: 'transient' });
  }
}

/**
 * Write the tree of `commit` under `dest`. Submodules are skipped (their trees are not in this repo).
 * Every entry goes into a directory this export made itself, and nothing is written over an
 * existing name: a malformed tree (an entry named twice, once as a link) cannot make a write
 * land through a link outside the work dir.
 */
async function exportTree(gitdir: string, commit: string, dest: string, cache: object, log: Logger): Promise<number> {
  let files = 0;
  const root = resolve(dest);
  const made = new Set([root]);
  await git.walk({
    fs,
    gitdir,
    cache,
    trees: [git.TREE({ ref: commit })],
    map: async (filepath, entries) => {
      const entry = entries[0];
      if (!entry || filepath === '.') return true;
      const target = resolve(root, filepath);
      if (!target.startsWith(root + sep) || filepath.split('/').includes('.git') || !made.has(dirname(target))) {
        throw new SourceResolveError(`refusing tree entry ${quote(filepath)} (escapes the work dir, names .git or sits under a link)`, { filepath });
      }
      const type = await entry.type();
      if (type === 'tree') {
        await mkdir(target).catch((e: NodeJS.ErrnoException) => refuseDuplicate(e, filepath));
        made.add(target);
        return true;
      }
      if (type === 'commit') {
        log.warn({ filepath }, 'skipping git submodule');
        return null;
      }
      const mode = await entry.mode();
      const content = (await entry.content()) ?? new Uint8Array();
      if (mode === 0o120000) await symlink(Buffer.from(content).toString('utf8'), target).catch((e: NodeJS.ErrnoException) => refuseDuplicate(e, filepath));
      else {
        // 'wx' (O_CREAT | O_EXCL) never opens an existing name, a link included.
        await writeFile(target, content, { flag: 'wx', mode: mode === 0o100755 ? 0o755 : 0o644 }).catch((e: NodeJS.ErrnoException) => refuseDuplicate(e, filepath));
        if (mode === 0o100755) await chmod(target, 0o755);
      }
      files++;
      return true;
    },
  });
  return files;
}

/**
 * isomorphic-git refusing the pinned commit's own tree (an unsafe path such as
 * `sub/.git`, an object of the wrong type, one missing) fails the same way every
 * time: the source is at fault (terminal), not the agent.
 */
function rethrowTreeError(e: unknown, commit: string): never {
  if (e instanceof git.Errors.UnsafeFilepathError || e instanceof git.Errors.ObjectTypeError || e instanceof git.Errors.NotFoundError) {
    throw new SourceResolveError(`the source tree of ${commit} cannot be exported: ${e.message}`, { commit }, { cause: e, kind: 'terminal' });
  }
  throw e;
}

function refuseDuplicate(e: NodeJS.ErrnoException, filepath: string): never {
  if (e.code === 'EEXIST') throw new SourceResolveError(`refusing tree entry ${quote(filepath)}: the tree names it twice`, { filepath });
  throw e;
}

export interface FetchOptions {
  /** Keep remote clones here between jobs (one directory per URL). Without it, every job clones into scratch. */
  cacheDir?: string;
}

/** Fetch `src` into `dest` (created). `scratch` holds a throw-away clone of a remote source when there is no cache. */
export async function fetchSource(src: SourceSpec, dest: string, scratch: string, log: Logger, opts: FetchOptions = {}): Promise<FetchedSource> {
  const cache = {};
  const subdir = safeSubdir(src.subdir);
  const loc = sourceLocation(src.url);
  if (!HEX.test(src.commit)) throw new SourceResolveError(`pinned commit ${quote(src.commit)} is not a hex commit id`, { commit: src.commit });
  const exportFrom = async (gitdir: string) => {
    const commit = await resolveCommit(gitdir, src.commit, cache);
    await mkdir(dest, { recursive: true });
    return { commit, files: await exportTree(gitdir, commit, dest, cache, log).catch((e: unknown) => rethrowTreeError(e, commit)) };
  };
  let got: { commit: string; files: number };
  if (loc.kind === 'local') got = await exportFrom(await localGitdir(loc.path));
  else if (!opts.cacheDir) got = await exportFrom(await cloneHttp(loc.url, scratch, cache, log));
  else {
    const cacheDir = opts.cacheDir;
    got = await withLock(`${cacheDir}\0${loc.url}`, async () => exportFrom(await cachedRemote(loc.url, src.commit, cacheDir, cache, log)));
  }
  const { commit, files } = got;
  // A subdir that is a link would have the agent (and the build's bind mount) read wherever it points.
  const buildDir = await realDirUnder(dest, subdir).catch((e: unknown) => {
    throw e instanceof SourceResolveError ? new SourceResolveError(`source subdir ${quote(subdir)} at ${commit}: ${e.message}`, { subdir, commit }, { cause: e }) : e;
  });
  return { dir: dest, buildDir, commit, files };
}
