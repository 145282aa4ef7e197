// What must hold after a soak run, each check returning what it found:
//  - every build key has exactly one final record on kiln/status;
//  - every result the stream stored (agents' journal) is on kiln/status, and the
//    results stream is empty (everything was acked);
//  - every published index verifies with gpgv and lists only recorded artifacts.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { BuildRecord, ReleaseRecord } from '../../schema/status.ts';

const run = promisify(execFile);

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface JournalLine {
  kind: 'run' | 'result';
  agent: string;
  key: string;
  attempt: number;
  outcome?: string;
  duplicate?: boolean;
  at: number;
}

const isFinal = (r: BuildRecord) => r.state === 'succeeded' || (r.state === 'failed' && !r.retryAt);

/** Pure. `recordFiles`: the builds/*.yaml paths on kiln/status. */
export function checkRecords(packages: string[], records: BuildRecord[], recordFiles: string[]): Check {
  const per = new Map<string, BuildRecord[]>();
  for (const r of records) per.set(r.inputs.package, [...(per.get(r.inputs.package) ?? []), r]);
  const problems = [
    ...packages.filter((p) => (per.get(p)?.length ?? 0) !== 1).map((p) => `${p}: ${per.get(p)?.length ?? 0} records`),
    ...records.filter((r) => !isFinal(r)).map((r) => `${r.inputs.package}: not final (${r.state}${r.retryAt ? `, retry at ${r.retryAt}` : ''})`),
    ...[...per.keys()].filter((p) => !packages.includes(p)).map((p) => `${p}: recorded but never declared`),
  ];
  if (recordFiles.length !== records.length) problems.push(`${recordFiles.length} record files for ${records.length} records`);
  return { name: 'one final record per build key', ok: problems.length === 0, detail: problems.length ? problems.slice(0, 10).join('; ') : `${records.length} builds, ${records.length} record files` };
}

/** Pure. `resultsLeft`: messages still in the results stream. */
export function checkResults(journal: JournalLine[], records: Map<string, BuildRecord>, resultsLeft: number): Check {
  const stored = journal.filter((l) => l.kind === 'result' && !l.duplicate);
  const problems: string[] = [];
  for (const l of stored) {
    const attempt = records.get(l.key)?.attempts.find((a) => a.n === l.attempt);
    if (!attempt) problems.push(`${l.key.slice(0, 12)} attempt ${l.attempt}: stored by ${l.agent}, not on kiln/status`);
    else if (attempt.outcome !== l.outcome) problems.push(`${l.key.slice(0, 12)} attempt ${l.attempt}: ${l.outcome} stored, ${attempt.outcome ?? 'no outcome'} recorded`);
  }
  if (resultsLeft !== 0) problems.push(`${resultsLeft} result(s) still in the stream (not acked)`);
  return { name: 'every acked result is on kiln/status', ok: problems.length === 0, detail: problems.length ? problems.slice(0, 10).join('; ') : `${stored.length} stored results, all recorded; results stream empty` };
}

async function gpgv(keyring: string, ...files: string[]): Promise<string | undefined> {
  try {
    await run('gpgv', ['--keyring', keyring, ...files]);
    return undefined;
  } catch (e) {
    return `gpgv ${files.map((f) => f.split('/').slice(-1)[0]).join(' ')}: ${(e as { stderr?: string }).stderr?.trim() ?? (e as Error).message}`;
  }
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** Release's SHA256 section: path -> { sha256, size }. */
function releaseHashes(release: string): Map<string, { sha256: string; size: number }> {
  const section = release.slice(release.indexOf('\nSHA256:') + 1).split('\n').slice(1);
  const out = new Map<string, { sha256: string; size: number }>();
  for (const line of section) {
    const m = /^ ([0-9a-f]{64}) +(\d+) (\S+)$/.exec(line);
    if (!m) break;
    out.set(m[3], { sha256: m[1], size: Number(m[2]) });
  }
  return out;
}

/** One distribution's repository under `repoDir` (= --repos/<dist>), against what kiln/status recorded. */
export async function checkPublished(repoDir: string, suite: string, keyring: string, records: Map<string, BuildRecord>, release: ReleaseRecord | undefined): Promise<Check> {
  const name = `published index of ${suite} verifies and lists only recorded artifacts`;
  const dists = join(repoDir, 'dists', suite);
  const problems: string[] = [];
  for (const p of [await gpgv(keyring, join(dists, 'InRelease')), await gpgv(keyring, join(dists, 'Release.gpg'), join(dists, 'Release'))]) if (p) problems.push(p);
  const hashes = releaseHashes(await readFile(join(dists, 'Release'), 'utf8'));
  for (const [path, want] of hashes) {
    const got = await readFile(join(dists, path)).catch(() => undefined);
    if (!got) problems.push(`${path}: listed in Release, missing`);
    else if (sha256(got) !== want.sha256 || got.length !== want.size) problems.push(`${path}: differs from Release`);
  }
  const recorded = new Map<string, BuildRecord>();
  for (const r of records.values()) for (const a of r.artifacts ?? []) if (r.state === 'succeeded') recorded.set(a.sha256, r);
  const released = new Set((release?.packages ?? []).map((p) => `${p.name} ${p.version}`));
  let listed = 0;
  for (const path of [...hashes.keys()].filter((p) => p.endsWith('/Packages'))) {
    const stanzas = (await readFile(join(dists, path), 'utf8')).split('\n\n').filter((s) => s.trim());
    for (const s of stanzas) {
      listed++;
      const field = (f: string) => new RegExp(`^${f}: (.*)$`, 'm').exec(s)?.[1] ?? '';
      const [pkg, version, file, sum] = [field('Package'), field('Version'), field('Filename'), field('SHA256')];
      const rec = recorded.get(sum);
      if (!rec) problems.push(`${path}: ${pkg} ${version} (${sum.slice(0, 12)}) is no recorded artifact`);
      else if (rec.inputs.package !== pkg || rec.inputs.version !== version) problems.push(`${path}: ${pkg} ${version} is the artifact of ${rec.inputs.package} ${rec.inputs.version}`);
      if (!released.has(`${pkg} ${version}`)) problems.push(`${path}: ${pkg} ${version} is not in releases/${release?.distribution ?? suite}.yaml`);
      const deb = await readFile(join(repoDir, file)).catch(() => undefined);
      if (!deb || sha256(deb) !== sum) problems.push(`${file}: ${deb ? 'digest differs' : 'missing'}`);
    }
  }
  const succeeded = [...records.values()].filter((r) => r.state === 'succeeded').length;
  if (listed !== succeeded) problems.push(`${listed} packages listed, ${succeeded} builds succeeded`);
  return { name, ok: problems.length === 0, detail: problems.length ? problems.slice(0, 10).join('; ') : `InRelease and Release.gpg good; ${hashes.size} index files match Release; ${listed} packages, each a recorded artifact` };
}
