// What a package's relative `source.git` is resolved against when reading the
// metadata repo at `dir`: the directory itself, or — for the reconciler's
// mirror of a remote metadata repo (reconciler/remote/mirror.ts) — the
// remote's URL, which the mirror keeps as its `kiln` remote.
import fs from 'node:fs';
import { resolve } from 'node:path';
import git from 'isomorphic-git';
import { repoArgs } from '../git/tree.ts';
import { FETCHED_PREFIX, MIRROR_REMOTE } from '../git/mirror-layout.ts';
import type { SourceBase } from './source-url.ts';

const known = new Map<string, Promise<SourceBase>>();

const config = (dir: string, path: string): Promise<unknown> => git.getConfig({ fs, ...repoArgs(dir), path }).catch(() => undefined);

async function readBase(dir: string): Promise<SourceBase> {
  // A mirror fetches everything into refs/kiln/fetched/: a user's own remote of the same name does not.
  const [url, fetch] = await Promise.all([config(dir, `remote.${MIRROR_REMOTE}.url`), config(dir, `remote.${MIRROR_REMOTE}.fetch`)]);
  const mirror = typeof url === 'string' && url !== '' && typeof fetch === 'string' && fetch.includes(`:${FETCHED_PREFIX}`);
  return mirror ? { kind: 'url', url } : { kind: 'dir', dir: resolve(dir) };
}

/** Read once per directory per process (a mirror's URL never changes: it names the mirror). */
export function sourceBaseOf(dir: string): Promise<SourceBase> {
  const key = resolve(dir);
  let base = known.get(key);
  if (!base) known.set(key, (base = readBase(dir)));
  return base;
}
