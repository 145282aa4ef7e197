// Source packages in a publish: each file verified and placed in the pool like
// a .deb (same directory as the binaries of that source, as Debian's archive
// does), and each .dsc checked against the package it is published for and the
// files it lists before it is indexed. One source version is one .dsc: a
// second, different .dsc for the same source and version is refused.
import { dirname, join } from 'node:path';
import { isKilnError, PublishInputError } from '../../../schema/errors.ts';
import { formatControlParagraph } from '../deb/control-paragraph.ts';
import { dscProblems, parseDsc } from '../deb/dsc.ts';
import type { PlannedFile } from './plan-files.ts';
import { ingestPoolFile, type Describe, type IngestMode } from './pool-file.ts';
import type { SourceEntry } from './sources-index.ts';
import type { RepoState } from './state.ts';

/** The stored description of a source file: the .dsc's paragraph (unsigned), nothing for the others. */
const describeSource: Describe = async (file, bytes) => (file.name.endsWith('.dsc') ? formatControlParagraph(parseDsc(bytes.toString('utf8'), file.name).fields) : '');

const refuse = (f: PlannedFile, message: string) => new PublishInputError(message, { package: f.source, version: f.version, file: f.file.name });

/** Bring one source file into the pool (if new), its errors naming the package and version. */
export async function sourcePoolFile(repoDir: string, f: PlannedFile, state: RepoState, added: string[], mode: IngestMode): Promise<void> {
  try {
    const known = state.pool[f.poolRel];
    if (known !== undefined && known !== f.file.sha256) {
      throw refuse(f, `${f.poolRel} is already published with other bytes (sha256 ${known.slice(0, 12)}…, now ${f.file.sha256.slice(0, 12)}…); a published source never changes: bump the version`);
    }
    if (known === f.file.sha256 && state.files[f.file.sha256]?.arch === 'source') return;
    const got = await ingestPoolFile(f.file, join(repoDir, f.poolRel), f.poolRel, mode, describeSource);
    if (got.added) added.push(f.poolRel);
    state.files[got.digests.sha256] = { control: got.control, size: got.digests.size, md5: got.digests.md5, package: f.source, version: f.version, arch: 'source' };
    state.pool[f.poolRel] = got.digests.sha256;
  } catch (e) {
    if (isKilnError(e)) Object.assign(e.data, { package: f.source, version: f.version });
    throw e;
  }
}

/**
 * The Sources entries of the planned source files (already in the pool and in `state`).
 * Every .dsc must be of its package (Source, Version), every file it lists must be given
 * with the listed digest, every given source file must be listed, and no source version
 * may come with two different .dsc.
 */
export function sourceEntries(planned: PlannedFile[], state: RepoState): SourceEntry[] {
  const sources = planned.filter((f) => f.kind === 'source');
  const byPath = new Map(sources.map((f) => [f.poolRel, f]));
  const listed = new Set<string>();
  const dscOf = new Map<string, PlannedFile>();
  const out: SourceEntry[] = [];
  for (const f of sources.filter((s) => s.file.name.endsWith('.dsc'))) {
    const stored = state.files[f.file.sha256];
    const dsc = parseDsc(stored.control, f.file.name);
    const problems = dscProblems(f.file.name, dsc, { source: f.source, version: f.version });
    if (problems.length) throw refuse(f, `${problems.join('; ')}: not published`);
    const same = dscOf.get(`${dsc.source}\0${dsc.version}`);
    if (same && same.file.sha256 !== f.file.sha256) {
      throw refuse(f, `${f.file.name}: ${dsc.source} ${dsc.version} already has another .dsc in this suite (${same.poolRel}, sha256 ${same.file.sha256.slice(0, 12)}…); a source version is published once`);
    }
    dscOf.set(`${dsc.source}\0${dsc.version}`, f);
    const dir = dirname(f.poolRel);
    const files = [{ name: f.file.name, size: stored.size, md5: stored.md5, sha256: f.file.sha256 }];
    for (const part of dsc.files) {
      const given = byPath.get(`${dir}/${part.name}`);
      if (!given) throw refuse(f, `${f.file.name} lists ${part.name}, which is not among ${f.source} ${f.version}'s files: not published`);
      if ((part.sha256 && part.sha256 !== given.file.sha256) || part.size !== given.file.size) {
        throw refuse(f, `${f.file.name} lists ${part.name} as sha256 ${part.sha256?.slice(0, 12)}… (${part.size} bytes), the file given is ${given.file.sha256.slice(0, 12)}… (${given.file.size} bytes): not published`);
      }
      listed.add(given.poolRel);
      files.push({ name: part.name, size: given.file.size, md5: state.files[given.file.sha256].md5, sha256: given.file.sha256 });
    }
    listed.add(f.poolRel);
    out.push({ fields: dsc.fields, package: dsc.source, version: dsc.version, component: f.component, directory: dir, files });
  }
  for (const f of sources) if (!listed.has(f.poolRel)) throw refuse(f, `${f.file.name} is not listed by any .dsc of ${f.source} ${f.version}: not published`);
  return out;
}
