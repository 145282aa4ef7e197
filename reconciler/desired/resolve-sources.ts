// The source of every package file read: its `source.git` resolved against the metadata repo,
// its ref to a commit, and (Debian packages) debian/control at that commit. Each distinct
// (url, ref) is resolved once and each distinct control read once, READ_CONCURRENCY at a time,
// and the answers handed to the files synchronously: a cold read of 10,000 packages that share a
// few sources otherwise paid two awaits per file (≈ 6% of its CPU profile). Bad input becomes a
// diagnostic on the file; an unreachable remote throws.
import pMap from 'p-map';
import { SourceResolveError, type Diagnostic } from '../../schema/errors.ts';
import type { PackageDoc } from '../../schema/metadata.ts';
import type { FileEntry } from './read-desired.ts';
import type { ControlReader, ControlSource, SourceControl } from './source-control.ts';
import type { SourceResolver } from './source-resolver.ts';
import { resolveSourceUrl, type SourceBase, type SourceUrl } from './source-url.ts';
import { lookup } from './yaml-positions.ts';

export const READ_CONCURRENCY = 16;

/** An error on a package file at a JSON pointer of its document (positions are worked out only here). */
function sourceProblem(e: FileEntry, pointer: '/source/git' | '/source/ref', message: string): Diagnostic {
  const { line, col } = lookup(e.parsed!.positions, pointer);
  return { file: e.path, line, col, message, severity: 'error', path: pointer };
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };

/** Each distinct key's answer, `concurrency` at a time; the first error that is not `expected` throws. */
async function settleEach<T>(keys: Map<string, () => Promise<T>>, expected: (e: unknown) => boolean): Promise<Map<string, Settled<T>>> {
  const out = new Map<string, Settled<T>>();
  await pMap(keys, async ([key, run]) => {
    try {
      out.set(key, { ok: true, value: await run() });
    } catch (error) {
      if (!expected(error)) throw error;
      out.set(key, { ok: false, error });
    }
  }, { concurrency: READ_CONCURRENCY });
  return out;
}

/**
 * One key string per distinct (a, b), made once: a cold read of 10,000 files naming one source
 * otherwise built two key strings per file only to find the same entry.
 */
function pairKeys(): (a: string, b: string) => string {
  const byA = new Map<string, Map<string, string>>();
  return (a, b) => {
    let byB = byA.get(a);
    if (!byB) byA.set(a, (byB = new Map()));
    let key = byB.get(b);
    if (key === undefined) byB.set(b, (key = `${a}\n${b}`));
    return key;
  };
}

/** Sets `source` (and `control`) of each package entry, or adds the diagnostics that say why not. */
export async function resolveSources(entries: readonly FileEntry[], base: SourceBase, resolve: SourceResolver, readControl: ControlReader): Promise<void> {
  const refs = new Map<string, () => Promise<string>>();
  const wanted: Array<{ e: FileEntry; doc: PackageDoc; url: string; key: string }> = [];
  // Path and URL arithmetic, the same for every file naming the same source.
  const urls = new Map<string, SourceUrl>();
  const keyOf = pairKeys();
  for (const e of entries) {
    const doc = e.parsed?.kind === 'package' ? e.parsed.doc : undefined;
    if (!doc) continue;
    let url = urls.get(doc.source.git);
    if (!url) urls.set(doc.source.git, (url = resolveSourceUrl(doc.source.git, base)));
    if (!url.ok) {
      e.diagnostics.push(sourceProblem(e, '/source/git', `source.git: ${url.reason}`));
      continue;
    }
    const key = keyOf(url.url, doc.source.ref);
    if (!refs.has(key)) refs.set(key, () => resolve(url.url, doc.source.ref));
    wanted.push({ e, doc, url: url.url, key });
  }
  // A missing repo or ref is the file's problem; anything else (a remote down) ends the read.
  const commits = await settleEach(refs, (err) => err instanceof SourceResolveError && err.data.missing !== undefined);

  const controls = new Map<string, () => Promise<SourceControl>>();
  const needControl: Array<{ e: FileEntry; key: string }> = [];
  for (const { e, doc, url, key } of wanted) {
    const commit = commits.get(key)!;
    if (!commit.ok) {
      const err = commit.error as SourceResolveError;
      const pointer = err.data.missing === 'repo' ? '/source/git' : '/source/ref';
      e.diagnostics.push(sourceProblem(e, pointer, `${pointer === '/source/git' ? 'source.git' : 'source.ref'}: ${err.message}`));
      continue;
    }
    e.source = { url, commit: commit.value };
    // Only Debian packages have a debian/control to read.
    if (doc.format !== 'deb') continue;
    const { ref, subdir } = doc.source;
    const controlKey = keyOf(keyOf(key, commit.value), subdir ?? '');
    if (!controls.has(controlKey)) {
      const src: ControlSource = { url, ref, commit: commit.value, ...(subdir ? { subdir } : {}) };
      controls.set(controlKey, () => readControl(src));
    }
    needControl.push({ e, key: controlKey });
  }
  const read = await settleEach(controls, () => false);
  for (const { e, key } of needControl) e.control = (read.get(key) as { value: SourceControl }).value;
}
