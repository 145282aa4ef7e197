// What is actually published in a dnf repository, compared with its release
// record, at a bounded cost per call: repomd.xml hashed (it must be the recorded
// one, or the one Kiln's own re-signing wrote), its signature present, every
// repodata file it names present, and `budget` of the published rpms hashed
// against the publisher's state, in rotation from `cursor`.
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex, sha256File } from '../apt/hashes.ts';
import { repomdLocations } from './createrepo.ts';
import { PACKAGES_DIR, REPOMD, REPOMD_SIG } from './layout.ts';
import { servedName } from './served.ts';
import { readDnfState } from './state.ts';

export interface DnfObservation {
  drift?: string;
  cursor: number;
}

const exists = (p: string) => stat(p).then((s) => s.isFile(), () => false);

/** What observe reads of a release record: the repomd.xml it names and the signed rpms it lists. */
export interface DnfRecord {
  releaseSha256?: string;
  packages?: Array<{ signed?: Array<{ name: string; sha256: string }> }>;
}

/** The first rpm the record lists with another digest than the published one (a re-signing since): the record is out of date. */
function staleSignature(record: DnfRecord, state: Awaited<ReturnType<typeof readDnfState>>): string | undefined {
  // A file is served under its name or, re-signed, under packages/<hex16>/<name> (served.ts).
  const served = new Map(Object.entries(state.files).filter(([rel]) => !(rel in state.retired)).map(([rel, f]) => [servedName(rel), f]));
  for (const s of (record.packages ?? []).flatMap((p) => p.signed ?? [])) {
    const now = served.get(s.name);
    if (now && now.sha256 !== s.sha256) return s.name;
  }
  return undefined;
}

export async function observeDnf(root: string, dist: string, record: DnfRecord, cursor: number, budget = 64): Promise<DnfObservation> {
  const repoDir = join(root, dist);
  const repomd = await readFile(join(repoDir, REPOMD)).catch(() => undefined);
  if (!repomd) return { drift: `${REPOMD} is missing`, cursor };
  const state = await readDnfState(repoDir);
  const sha = sha256Hex(repomd);
  if (sha !== record.releaseSha256 && sha !== state.repomd) return { drift: `${REPOMD} differs from the one recorded (sha256 ${sha.slice(0, 12)}…)`, cursor };
  if (!(await exists(join(repoDir, REPOMD_SIG)))) return { drift: `${REPOMD_SIG} is missing`, cursor };
  const stale = staleSignature(record, state);
  if (stale) return { drift: `${PACKAGES_DIR}/${stale} was signed again since the release record named its signature`, cursor };
  for (const rel of repomdLocations(repomd.toString('utf8'))) {
    if (!(await exists(join(repoDir, rel)))) return { drift: `${rel}, named by ${REPOMD}, is missing`, cursor };
  }
  const files = Object.keys(state.files).filter((f) => !(f in state.retired)).sort();
  if (files.length === 0) return { cursor: 0 };
  for (let i = 0; i < Math.min(budget, files.length); i++) {
    const rel = files[(cursor + i) % files.length];
    const got = await sha256File(join(repoDir, rel)).catch(() => undefined);
    if (got?.sha256 !== state.files[rel].sha256) return { drift: `${rel} is ${got ? 'not the file published' : 'missing'}`, cursor };
  }
  return { cursor: (cursor + budget) % files.length };
}
