// Real rpm files for tests that need many quickly: the host's rpmbuild (Debian
// `rpm`, installed by scripts/setup-host) builds a spec made by the test, with
// no network and no root needed. The agent path (rpmbuild in the rpm image under
// the build lock-down) is tested in rpm-dnf.test.ts; this is for publishers.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import { sha256File } from '../../reconciler/publish/apt/hashes.ts';
import type { NatsSession } from '../../reconciler/pipeline/nats-session.ts';
import type { BuildAction } from '../../reconciler/model.ts';
import type { BuildResult } from '../../schema/messages.ts';
import { OBJECTS, SUBJECTS } from '../../schema/nats.ts';
import { rpmSpec } from '../fixtures/rpm-source.ts';

const run = promisify(execFile);

export interface WrittenRpm {
  name: string;
  path: string;
  sha256: string;
  size: number;
}

/** A noarch rpm of `name` at `version` ('[E:]V-R') in `dir`; `defines`: rpm macros for rpmbuild (e.g. `__gpg_reserved_space`). */
export async function writeRpm(dir: string, o: { name: string; version: string; defines?: Record<string, string> }): Promise<WrittenRpm> {
  const colon = o.version.indexOf(':');
  const epoch = colon > 0 ? o.version.slice(0, colon) : undefined;
  const vr = o.version.slice(colon + 1);
  const dash = vr.lastIndexOf('-');
  const [version, release] = dash > 0 ? [vr.slice(0, dash), vr.slice(dash + 1)] : [vr, '1'];
  const top = await mkdtemp(join(dir, '.rpmbuild-'));
  try {
    const spec = join(top, `${o.name}.spec`);
    await writeFile(spec, rpmSpec({ name: o.name, version, release, ...(epoch ? { extra: [`Epoch: ${epoch}`] } : {}) }));
    const defines = Object.entries(o.defines ?? {}).flatMap(([k, v]) => ['--define', `${k} ${v}`]);
    await run('rpmbuild', ['-bb', '--quiet', '--define', `_topdir ${top}`, ...defines, spec], { env: { ...process.env, HOME: top, LC_ALL: 'C' } });
    const [file] = await readdir(join(top, 'RPMS', 'noarch'));
    const path = join(dir, file);
    await run('mv', [join(top, 'RPMS', 'noarch', file), path]);
    return { name: file, path, ...(await sha256File(path)) };
  } finally {
    await rm(top, { recursive: true, force: true });
  }
}

/**
 * A copy of an rpm whose header NAME is replaced by `name` (same length: the header's layout is
 * unchanged) with the header digests recomputed, so `rpm -K` passes: a crafted package.
 */
export async function renamedRpm(from: string, to: string, name: string): Promise<WrittenRpm> {
  const buf = await readFile(from);
  const LEAD = 96;
  const sigCount = buf.readInt32BE(LEAD + 8);
  const sigData = buf.readInt32BE(LEAD + 12);
  const sigStore = LEAD + 16 + 16 * sigCount;
  const sigSize = 16 + 16 * sigCount + sigData;
  const main = LEAD + sigSize + ((8 - (sigSize % 8)) % 8);
  const count = buf.readInt32BE(main + 8);
  const store = main + 16 + 16 * count;
  const end = store + buf.readInt32BE(main + 12);
  for (let i = 0; i < count; i++) {
    const at = main + 16 + 16 * i;
    if (buf.readInt32BE(at) !== 1000) continue;
    const off = store + buf.readInt32BE(at + 8);
    const old = buf.subarray(off, buf.indexOf(0, off)).toString('latin1');
    if (old.length !== name.length) throw new Error(`renamedRpm: the new name must be ${old.length} characters, like ${old}`);
    buf.write(name, off, 'latin1');
  }
  const header = buf.subarray(main, end);
  for (let i = 0; i < sigCount; i++) {
    const at = LEAD + 16 + 16 * i;
    const tag = buf.readInt32BE(at);
    const off = sigStore + buf.readInt32BE(at + 8);
    if (tag === 269) buf.write(createHash('sha1').update(header).digest('hex'), off, 'latin1');
    if (tag === 273) buf.write(createHash('sha256').update(header).digest('hex'), off, 'latin1');
    if (tag === 1004) createHash('md5').update(buf.subarray(main)).digest().copy(buf, off);
  }
  await writeFile(to, buf);
  return { name: basename(to), path: to, ...(await sha256File(to)) };
}

/** The rpms a dnf repository's live repodata names (repomd.xml -> primary.xml.gz): path relative to the repository and sha256. Read as a client reads it. */
export function liveRpms(repo: string): Array<{ file: string; sha256: string }> {
  const repomd = readFileSync(join(repo, 'repodata/repomd.xml'), 'utf8');
  const href = /<data type="primary">[\s\S]*?<location href="([^"]+)"/.exec(repomd)![1];
  const xml = gunzipSync(readFileSync(join(repo, href))).toString();
  return [...xml.matchAll(/<checksum type="sha256" pkgid="YES">([0-9a-f]+)<\/checksum>[\s\S]*?<location href="([^"]+)"/g)].map((m) => ({ file: m[2], sha256: m[1] }));
}

/** Where the live repodata serves the rpm named `name` (packages/<name>, or packages/<hex16>/<name> once re-signed). */
export function servedRpm(repo: string, name: string): string {
  const hit = liveRpms(repo).find((r) => basename(r.file) === name);
  if (!hit) throw new Error(`${name} is not in the repodata of ${repo}`);
  return join(repo, hit.file);
}

/** What an agent would report for `action` having built `rpm`: the artifact put, then the success published. */
export async function reportBuiltRpm(session: NatsSession, action: BuildAction, rpm: WrittenRpm): Promise<void> {
  await session.objectStore.putBlob({ name: OBJECTS.artifact(rpm.sha256) }, new Uint8Array(await readFile(rpm.path)));
  const now = new Date().toISOString();
  const result: BuildResult = {
    v: 1, key: action.key, attempt: action.attempt, inputs: action.inputs, pool: action.pool, agent: 'stand-in', outcome: 'succeeded', exitCode: 0,
    artifacts: [{ name: rpm.name, sha256: rpm.sha256, size: rpm.size }], startedAt: now, finishedAt: now,
  };
  await session.js.publish(SUBJECTS.result(action.key), JSON.stringify(result), { msgID: `${action.key}.${action.attempt}.result` });
}
