// What is actually published, compared with what the status branch remembers
// publishing: a lost or damaged repository is republished instead of being
// believed (the plan says why: RepositoryDrift). Bounded per pass:
//  - every call: Release and InRelease are read and hashed (two small files),
//    and every index the Release lists is stat'ed for its size (a few files);
//  - pool files: `poolBudget` of the .debs and source files the record lists are stat'ed per call,
//    in rotation from `cursor`, so a missing or truncated pool file among N is
//    noticed within ceil(N / poolBudget) calls (apt itself checks their digests).
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { ReleaseRecord } from '../../../schema/status.ts';
import type { AptDistribution } from '../../model.ts';
import { sha256Hex } from './hashes.ts';
import { components, poolPath, suiteDir } from './layout.ts';
import { publishedArtifacts } from './published-artifacts.ts';
import { loadState } from './state.ts';

export interface RepositoryObservation {
  /** What is wrong, in one sentence; undefined when the repository is as recorded. */
  drift?: string;
  /** Where the next call continues the pool rotation. */
  cursor: number;
}

/** Pure: the `path -> size` of every index the Release's SHA256 section lists. */
export function releaseIndexes(release: string): Map<string, number> {
  const out = new Map<string, number>();
  const lines = release.split('\n');
  const start = lines.indexOf('SHA256:');
  if (start < 0) return out;
  for (const line of lines.slice(start + 1)) {
    const m = /^ ([0-9a-f]{64})\s+(\d+)\s+(\S+)$/.exec(line);
    if (!m) break;
    out.set(m[3], Number(m[2]));
  }
  return out;
}

/** Pure: the signed text of a cleartext-signed InRelease (undefined when it is not one). */
export function inReleaseBody(text: string): string | undefined {
  const m = /^-----BEGIN PGP SIGNED MESSAGE-----\n(?:[^\n]+\n)*\n([\s\S]*?)\n?-----BEGIN PGP SIGNATURE-----/.exec(text);
  return m ? m[1].replace(/^- /gm, '') : undefined;
}

/** Pure: pool path and size of every .deb and source package file the record lists (as publish-step places them). */
export function recordedPoolFiles(dist: AptDistribution, record: ReleaseRecord): Array<{ path: string; size: number }> {
  const comp = components(dist)[0];
  const files = new Map<string, number>();
  for (const p of record.packages) {
    const { debs, source } = publishedArtifacts(p.artifacts ?? []);
    for (const a of [...debs, ...source]) files.set(poolPath(comp, p.name, a.name), a.size);
  }
  return [...files].map(([path, size]) => ({ path, size })).sort((a, b) => a.path.localeCompare(b.path));
}

const sizeOf = (path: string) => stat(path).then((s) => (s.isFile() ? s.size : undefined), () => undefined);

async function signedFilesDrift(repoDir: string, dist: AptDistribution, record: ReleaseRecord): Promise<string | undefined> {
  const dir = suiteDir(dist.suite);
  const release = await readFile(join(repoDir, dir, 'Release'), 'utf8').catch(() => undefined);
  if (release === undefined) return `${dir}/Release is missing`;
  const sha = sha256Hex(release);
  // Kiln's own re-signing (key renewal) is remembered in the repository's state until the next publish records it.
  if (sha !== record.releaseSha256 && sha !== (await loadState(repoDir)).release?.sha256) return `${dir}/Release differs from the one recorded (sha256 ${sha.slice(0, 12)}…)`;
  const inRelease = await readFile(join(repoDir, dir, 'InRelease'), 'utf8').catch(() => undefined);
  if (inRelease === undefined) return `${dir}/InRelease is missing`;
  const body = inReleaseBody(inRelease);
  if (body === undefined || sha256Hex(body.endsWith('\n') ? body : `${body}\n`) !== sha) return `${dir}/InRelease does not sign the published Release`;
  for (const [path, size] of releaseIndexes(release)) {
    const got = await sizeOf(join(repoDir, dir, path));
    if (got !== size) return `${dir}/${path} is ${got === undefined ? 'missing' : `${got} bytes, not ${size}`}`;
  }
  return undefined;
}

/** Compare ROOT/<dist> with its release record; see the header for what one call costs. */
export async function observeRepository(root: string, dist: AptDistribution, record: ReleaseRecord, cursor = 0, poolBudget = 64): Promise<RepositoryObservation> {
  const repoDir = join(root, dist.name);
  const drift = await signedFilesDrift(repoDir, dist, record);
  if (drift) return { drift, cursor };
  const pool = recordedPoolFiles(dist, record);
  const n = Math.min(pool.length, poolBudget);
  for (let i = 0; i < n; i++) {
    const f = pool[(cursor + i) % pool.length];
    const got = await sizeOf(join(repoDir, f.path));
    if (got !== f.size) return { drift: `${f.path} is ${got === undefined ? 'missing' : `${got} bytes, not ${f.size}`}`, cursor };
  }
  return { cursor: pool.length ? (cursor + n) % pool.length : 0 };
}
