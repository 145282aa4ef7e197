// The indexes of a suite, rebuilt from the pool entries: Packages per component
// and architecture, Sources per component, each plain, .gz and .xz (apt prefers
// .xz, older or minimal clients .gz). Only the ones whose content changed are
// handed back for writing.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { digests, sha256Hex, type Digests } from './hashes.ts';
import { BY_HASH, indexDir, sourceIndexDir, suiteDir } from './layout.ts';
import { entriesForIndex, packagesIndex, packagesStanza, type PoolEntry } from './packages-index.ts';
import type { IndexDigest } from './release-file.ts';
import { entriesForComponent, sourcesIndex, type SourceEntry } from './sources-index.ts';
import type { RepoState } from './state.ts';
import type { SwitchInput } from './switch-plan.ts';
import { xzCompress } from './xz.ts';

const exists = (p: string) => stat(p).then(() => true, () => false);
const sha256Of = (p: string) => readFile(p).then((b) => sha256Hex(b), () => undefined);

export interface BuiltIndexes {
  digests: IndexDigest[];
  changed: SwitchInput['indexes'];
}

/** The compressed forms published beside each plain index. */
const VARIANTS = ['', '.gz', '.xz'] as const;

/** The index's bytes in each form; xz (a child process) runs while gzip compresses here. */
async function compressed(text: string): Promise<Record<(typeof VARIANTS)[number], Uint8Array>> {
  const xz = xzCompress(text);
  const gz = gzipSync(text, { level: 9 });
  return { '': Buffer.from(text), '.gz': gz, '.xz': await xz };
}

/** One index (`dir`/`base` and its compressed forms): reused when unchanged and intact on disk, else rebuilt. */
async function oneIndex(repoDir: string, suite: string, dir: string, base: string, text: string, state: RepoState): Promise<BuiltIndexes> {
  const out: BuiltIndexes = { digests: [], changed: [] };
  const plain = digests(text);
  const prev = VARIANTS.map((v) => state.indexes[`${dir}/${base}${v}`]);
  // The named file's content is checked, not just its presence: a publish interrupted after
  // writing named indexes but before its Release leaves them out of step with the Release.
  const onDisk = async (d: Digests | undefined, name: string) =>
    d !== undefined && (await exists(join(repoDir, suiteDir(suite), dir, BY_HASH, d.sha256))) && (await sha256Of(join(repoDir, suiteDir(suite), dir, name))) === d.sha256;
  if (prev[0]?.sha256 === plain.sha256 && (await Promise.all(VARIANTS.map((v, i) => onDisk(prev[i], base + v)))).every(Boolean)) {
    VARIANTS.forEach((v, i) => out.digests.push({ path: `${dir}/${base}${v}`, ...prev[i]! }));
    return out;
  }
  const forms = await compressed(text);
  for (const v of VARIANTS) {
    const data = forms[v];
    const d = v === '' ? plain : digests(Buffer.from(data));
    out.digests.push({ path: `${dir}/${base}${v}`, ...d });
    out.changed.push({ path: `${suiteDir(suite)}/${dir}/${base}${v}`, byHashPath: `${suiteDir(suite)}/${dir}/${BY_HASH}/${d.sha256}`, data });
  }
  return out;
}

/** Every Packages and Sources index of the suite; only those whose content changed are returned for writing. */
export async function buildIndexes(
  repoDir: string,
  suite: string,
  comps: string[],
  arches: string[],
  entries: PoolEntry[],
  sources: SourceEntry[],
  state: RepoState,
): Promise<BuiltIndexes> {
  const stanzas = new Map<PoolEntry, string>();
  const stanzaOf = (e: PoolEntry) => stanzas.get(e) ?? (stanzas.set(e, packagesStanza(e)), stanzas.get(e)!);
  const texts: Array<[dir: string, base: string, text: string]> = [];
  for (const comp of comps) {
    for (const arch of arches) texts.push([indexDir(comp, arch), 'Packages', packagesIndex(entriesForIndex(entries, comp, arch), stanzaOf)]);
    texts.push([sourceIndexDir(comp), 'Sources', sourcesIndex(entriesForComponent(sources, comp))]);
  }
  // Concurrently: the xz compressions are child processes, one per changed index, using every core.
  const built = await Promise.all(texts.map(([dir, base, text]) => oneIndex(repoDir, suite, dir, base, text, state)));
  return { digests: built.flatMap((b) => b.digests), changed: built.flatMap((b) => b.changed) };
}
