// The Packages{,.gz} files of a suite, rebuilt from the pool entries; only the
// ones whose content changed are handed back for writing.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { digests, sha256Hex, type Digests } from './hashes.ts';
import { BY_HASH, indexDir, suiteDir } from './layout.ts';
import { entriesForIndex, packagesIndex, packagesStanza, type PoolEntry } from './packages-index.ts';
import type { IndexDigest } from './release-file.ts';
import type { RepoState } from './state.ts';
import type { SwitchInput } from './switch-plan.ts';

const exists = (p: string) => stat(p).then(() => true, () => false);
const sha256Of = (p: string) => readFile(p).then((b) => sha256Hex(b), () => undefined);

export interface BuiltIndexes {
  digests: IndexDigest[];
  changed: SwitchInput['indexes'];
}

/** Every Packages{,.gz} of the suite; only those whose content changed are returned for writing. */
export async function buildIndexes(repoDir: string, suite: string, comps: string[], arches: string[], entries: PoolEntry[], state: RepoState): Promise<BuiltIndexes> {
  const out: BuiltIndexes = { digests: [], changed: [] };
  const stanzas = new Map<PoolEntry, string>();
  const stanzaOf = (e: PoolEntry) => stanzas.get(e) ?? (stanzas.set(e, packagesStanza(e)), stanzas.get(e)!);
  for (const comp of comps) {
    for (const arch of arches) {
      const dir = indexDir(comp, arch);
      const text = packagesIndex(entriesForIndex(entries, comp, arch), stanzaOf);
      const plain = digests(text);
      const prev = state.indexes[`${dir}/Packages`];
      const prevGz = state.indexes[`${dir}/Packages.gz`];
      // The named file's content is checked, not just its presence: a publish interrupted after
      // writing named indexes but before its Release leaves them out of step with the Release.
      const onDisk = async (d: Digests, name: string) =>
        (await exists(join(repoDir, suiteDir(suite), dir, BY_HASH, d.sha256))) && (await sha256Of(join(repoDir, suiteDir(suite), dir, name))) === d.sha256;
      if (prev?.sha256 === plain.sha256 && prevGz && (await onDisk(prev, 'Packages')) && (await onDisk(prevGz, 'Packages.gz'))) {
        out.digests.push({ path: `${dir}/Packages`, ...prev }, { path: `${dir}/Packages.gz`, ...prevGz });
        continue;
      }
      const gz = gzipSync(text, { level: 9 });
      const files: Array<[string, Uint8Array, Digests]> = [
        ['Packages', Buffer.from(text), plain],
        ['Packages.gz', gz, digests(gz)],
      ];
      for (const [name, data, d] of files) {
        out.digests.push({ path: `${dir}/${name}`, ...d });
        out.changed.push({ path: `${suiteDir(suite)}/${dir}/${name}`, byHashPath: `${suiteDir(suite)}/${dir}/${BY_HASH}/${d.sha256}`, data });
      }
    }
  }
  return out;
}

