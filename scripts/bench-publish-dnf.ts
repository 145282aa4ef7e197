// Benchmark of publishDnf on one repository of N (default 2,000) small rpms:
//   collect: every rpm header signed once (pipeline/signed-rpms.ts, into a cache:
//   the sign threads check, sign, hash and write each copy), from the bytes in
//   memory (as collect has them from verification), with the header facts rpm read
//   (collect's guard reads them; here one batched readRpms before the timings, not
//   timed); also how busy this (the reconciler's) thread was meanwhile, and the
//   floor under it: N files of the same sizes written into a fresh cache
//   (storeVerified: temp file + rename) with no signing at all;
//   (a) publish of the N collected rpms (recorded header facts trusted, each signed
//   copy's digest checked as it is hard-linked into place, createrepo_c, signed
//   repomd.xml) — what a pass publishes;
//   (b) publish signing every header itself (another key, a renewal) — what the
//   publish cost before collect-time signing;
//   no-op publish, and adding one collected rpm to the N.
// Baseline, same run, same rpms: `createrepo_c --no-database` of the directory
// (no checks, no copies, no signatures). A second baseline for (b), the native
// toolchain doing the same job: `rpmsign --addsign` of the N unsigned rpms (Debian's
// rpm, %__gpg /usr/bin/gpg, the same key in a throwaway GnuPG home; two rpmsign
// processes of N/2 each, as `xargs -P2` would run them on the 2 cores) followed by
// `createrepo_c --no-database` of the directory, after collect's signing rounds
// (not in turns with them: rpmsign replaces each file, N deletions that the next
// round's creations would pay for, see below); its CPU includes gpg-agent's (a
// daemon, read from /proc). Every timed round that creates files (signing, floor,
// rpmsign's copies) gets a directory of its own, all removed only at the end: on a
// journal-less ext4 such as this
// machine's, a new inode costs a scan past every inode deleted in its block group
// in the last minutes (ext4's recently_deleted check), so removing the last
// round's 2,000 files just before made the next round pay for them. The bench
// works under KILN_BENCH_DIR (default: the system's temp directory, where every
// engineer's tests create and delete files). The rpms come from one host rpmbuild of
// a spec with N subpackages. Wall times, best of ROUNDS, and the CPU time of this
// process (all its threads) and its waited-for children (createrepo_c) in that
// best round (collect's signing after one untimed round that starts the sign
// threads and lets V8 compile their code, as in a running reconciler): on a shared
// machine the CPU ratio moves less with the load than the wall ratio. (a) also
// prints publishDnf's own step timings (its log). Prints, asserts nothing (but
// that rpmsign's copies carry a header signature).
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { readFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { performance } from 'node:perf_hooks';
import pino from 'pino';
import { join } from 'node:path';
import { promisify } from 'node:util';
import pMap from 'p-map';
import { sha256File } from '../reconciler/publish/apt/hashes.ts';
import { cachedArtifactPath, storeVerified } from '../reconciler/pipeline/artifact-cache.ts';
import { signRpmHeaders, type HeaderSigned } from '../reconciler/pipeline/signed-rpms.ts';
import { publishDnf, type RpmInput } from '../reconciler/publish/dnf/publish.ts';
import { readRpms } from '../reconciler/publish/rpm/read-rpm.ts';
import { headerFacts as factsOf } from '../reconciler/publish/rpm/header-facts.ts';
import { generateKey, loadSigner, type Signer } from '../reconciler/signing/signer.ts';
import type { BuildResult } from '../schema/messages.ts';
import type { RpmHeaderFacts } from '../schema/status.ts';

const run = promisify(execFile);
const N = Number(process.argv[2] ?? 2000);
const ROUNDS = Number(process.argv[3] ?? 2);
const ms = (t: number) => `${t.toFixed(0).padStart(7)} ms`;

function spec(n: number, first = 0): string {
  const lines = ['Name: benchbase', 'Version: 1', 'Release: 1', 'Summary: bench', 'License: MIT', 'BuildArch: noarch', 'AutoReq: no', '', '%description', 'bench', ''];
  for (let i = first; i < first + n; i++) lines.push(`%package -n bench${String(i).padStart(5, '0')}`, 'Summary: bench', '', `%description -n bench${String(i).padStart(5, '0')}`, 'bench', '');
  for (let i = first; i < first + n; i++) lines.push(`%files -n bench${String(i).padStart(5, '0')}`, '');
  return lines.join('\n') + '\n';
}

async function makeRpms(dir: string, n: number, first = 0): Promise<RpmInput[]> {
  const top = await mkdtemp(join(dir, '.top-'));
  await writeFile(join(top, 'bench.spec'), spec(n, first));
  await run('rpmbuild', ['-bb', '--quiet', '--define', `_topdir ${top}`, join(top, 'bench.spec')], { env: { ...process.env, HOME: top } });
  const out: RpmInput[] = [];
  for (const f of (await readdir(join(top, 'RPMS', 'noarch'))).sort()) {
    const path = join(dir, f);
    await cp(join(top, 'RPMS', 'noarch', f), path);
    out.push({ name: f, path, ...(await sha256File(path)), package: f.replace(/-1-1\.noarch\.rpm$/, ''), version: '1-1' });
  }
  await rm(top, { recursive: true, force: true });
  return out;
}

/** What rpm says of each rpm's header (collect's guard), by sha256. */
async function headerFacts(rpms: RpmInput[]): Promise<Map<string, RpmHeaderFacts>> {
  const headers = await readRpms(rpms.map((r) => ({ path: r.path, label: r.name })));
  return new Map(rpms.map((r, i) => [r.sha256, factsOf(headers[i])!]));
}

/** The rpms' bytes by sha256: collect signs from the bytes its verification read (collect-step.ts), not from files. */
async function bytesOf(rpms: RpmInput[]): Promise<Map<string, Buffer>> {
  return new Map(await Promise.all(rpms.map(async (r) => [r.sha256, await readFile(r.path)] as const)));
}

/** What collect does for a result holding these rpms: each header signed into the cache. */
async function collectSign(rpms: RpmInput[], signer: Signer, cache: string, facts: Map<string, RpmHeaderFacts>, bytes: Map<string, Buffer>): Promise<HeaderSigned[]> {
  const result = { outcome: 'succeeded', artifacts: rpms.map(({ name, sha256, size }) => ({ name, sha256, size })), inputs: { recipe: { format: 'rpm' } } } as unknown as BuildResult;
  return signRpmHeaders(result, async (a) => bytes.get(a.sha256)!, signer, cache, facts);
}

const collected = (rpms: RpmInput[], signed: HeaderSigned[], cache: string): RpmInput[] => {
  const byBuilt = new Map(signed.map((s) => [s.built, s]));
  return rpms.map((r) => {
    const s = byBuilt.get(r.sha256)!;
    return { ...r, headerSigned: { path: cachedArtifactPath(cache, s.sha256), sha256: s.sha256, size: s.size, signingKey: s.signingKey, signature: s.signature, rpm: s.rpm } };
  });
};

/** CPU milliseconds of this process (every thread) and its waited-for children (/proc/self/stat cutime + cstime, clock ticks of 10 ms). */
function cpuMs(): number {
  const { user, system } = process.cpuUsage();
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ');
  return (user + system) / 1000 + (Number(fields[13]) + Number(fields[14])) * 10;
}

/** CPU milliseconds a live process (gpg-agent) has used so far: /proc/PID/stat utime + stime, clock ticks of 10 ms. */
function processCpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** The native toolchain's (b): rpmsign --addsign of `files` (two processes, half each) in GnuPG home `home`, then createrepo_c of `repo`; with gpg-agent's CPU ms meanwhile. */
async function nativeSignAndIndex(home: string, fingerprint: string, files: string[], repo: string, agentPid: number): Promise<Outside> {
  const agent0 = processCpuMs(agentPid);
  const env = { ...process.env, GNUPGHOME: home, LC_ALL: 'C' };
  const halves = [files.filter((_, i) => i % 2 === 0), files.filter((_, i) => i % 2 === 1)];
  await Promise.all(halves.map((half) => run('rpmsign', ['--addsign', '--define', '__gpg /usr/bin/gpg', '--define', `_gpg_name ${fingerprint}`, ...half], { env, maxBuffer: 1 << 24 })));
  await run('createrepo_c', ['--quiet', '--no-database', repo]);
  return { outsideCpuMs: processCpuMs(agentPid) - agent0 };
}

/** publishDnf's step timings of the last publish (its info log). */
let steps: Record<string, number> = {};
const log = pino({ level: 'info' }, { write: (line: string) => void (steps = JSON.parse(line).ms ?? steps) });

type Timing = { wall: number; cpu: number; busy: number; steps: Record<string, number> };
/** What a case's `f` may return: CPU ms spent outside this process and its waited-for children (gpg-agent), added to its CPU time. */
type Outside = { outsideCpuMs: number };
type Case = { label: string; f: () => Promise<unknown>; before?: () => Promise<void> };

/** Per case, the best wall time of ROUNDS (the cases taking turns in each round), and the CPU time, this thread's busy time (event loop) and step timings of that round. */
async function inTurns(...cases: Case[]): Promise<Timing[]> {
  const min = cases.map((): Timing => ({ wall: Infinity, cpu: Infinity, busy: Infinity, steps: {} }));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, { f, before }] of cases.entries()) {
      await before?.();
      const [t0, c0, e0] = [performance.now(), cpuMs(), performance.eventLoopUtilization()];
      const outside = await f();
      const wall = performance.now() - t0;
      const cpu = cpuMs() - c0 + ((outside as Partial<Outside> | undefined)?.outsideCpuMs ?? 0);
      if (wall < min[i].wall) min[i] = { wall, cpu, busy: performance.eventLoopUtilization(e0).active, steps };
    }
  }
  cases.forEach(({ label }, i) => console.log(`${label.padEnd(52)} ${ms(min[i].wall)}   cpu ${ms(min[i].cpu)}   this thread busy ${ms(min[i].busy)}`));
  return min;
}

const best = async (label: string, f: () => Promise<unknown>, before?: () => Promise<void>): Promise<Timing> => (await inTurns({ label, f, before }))[0];

const dir = await mkdtemp(join(process.env.KILN_BENCH_DIR || tmpdir(), 'kiln-bench-dnf-'));
/** A new directory under the bench's for each timed round that creates files (see the top: none is removed before the end). */
let made = 0;
const newDir = (name: string) => join(dir, `${name}-${made++}`);
try {
  const inputs = join(dir, 'in');
  await mkdir(inputs);
  const rpms = await makeRpms(inputs, N);
  const [extra] = await makeRpms(inputs, 1, N);
  const k = await generateKey({ name: 'Kiln bench', email: 'bench@kiln.invalid' });
  const signer = await loadSigner(k.privateKeyArmored);
  const root = join(dir, 'repos');
  const fresh = () => rm(root, { recursive: true, force: true });
  const base = join(dir, 'baseline');
  await cp(inputs, base, { recursive: true, filter: (p) => !p.includes('.top-') });
  let cache = newDir('cache');
  console.log(`${N} rpms, best of ${ROUNDS}, in ${dir}; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const publish = (packages: RpmInput[]) => publishDnf({ root, distribution: { name: 'bench' }, packages, signer, now: new Date(), log });
  const baseline = await best('createrepo_c --no-database (baseline)', () => run('createrepo_c', ['--quiet', '--no-database', base]), () => rm(join(base, 'repodata'), { recursive: true, force: true }));
  let signed: HeaderSigned[] = [];
  const facts = await headerFacts([...rpms, extra]);
  const bytes = await bytesOf([...rpms, extra]);
  let floorDir = '';
  // One untimed round first: a running reconciler's sign threads are started and their code compiled (V8's JIT) long before.
  await collectSign(rpms, signer, newDir('warm-up'), facts, bytes);
  // Taking turns: what creating a file costs here changes from minute to minute (other processes' creations and deletions).
  const [sign, floor] = await inTurns(
    { label: 'collect: sign N rpm headers (signRpmHeaders)', f: async () => (signed = await collectSign(rpms, signer, cache, facts, bytes)), before: async () => void (cache = newDir('cache')) },
    { label: 'floor: write N files of their sizes (no signing)', f: () => pMap(rpms, (r) => storeVerified(floorDir, r.sha256, bytes.get(r.sha256)!), { concurrency: 8 }), before: async () => void (floorDir = newDir('floor')) },
  );
  // After those rounds, not in turns with them: rpmsign replaces each file (N deletions), which the next round's creations would pay for.
  const native = await signer.withGnupgHome(async (home) => {
    // gpg-agent started now, so that its CPU time can be read (the signing happens there, not in rpmsign's children).
    const { stdout } = await run('gpg-connect-agent', ['getinfo pid', '/bye'], { env: { ...process.env, GNUPGHOME: home } });
    const agentPid = Number(/^D (\d+)/m.exec(stdout)?.[1]);
    if (!Number.isInteger(agentPid)) throw new Error(`gpg-connect-agent did not print gpg-agent's pid: ${JSON.stringify(stdout)}`);
    let nativeDir = '';
    const timing = await best(
      'native: rpmsign --addsign (2 processes) + createrepo_c',
      () => nativeSignAndIndex(home, signer.fingerprint, rpms.map((r) => join(nativeDir, r.name)), nativeDir, agentPid),
      async () => {
        nativeDir = newDir('native');
        await cp(inputs, nativeDir, { recursive: true, filter: (p) => !p.includes('.top-') });
      },
    );
    // rpm -K exits 1 for NOKEY (the key is in no rpmdb here): only that a header signature is there is asked.
    const { stdout: checked } = await run('rpm', ['-Kv', join(nativeDir, rpms[0].name)]).catch((e: { stdout: string }) => e);
    if (!/Header V4 .*Signature/.test(checked)) throw new Error(`rpmsign left no header signature: ${checked}`);
    return timing;
  });
  const input = collected(rpms, signed, cache);
  const [extraSigned] = await collectSign([extra], signer, cache, facts, bytes);
  const extraInput = collected([extra], [extraSigned], cache)[0];
  const placed = await best('(a) publishDnf, N collected rpms', () => publish(input), fresh);
  const selfSigned = await best('(b) publishDnf signing every header itself', () => publish(rpms), fresh);
  const noop = await best('publishDnf, no change', () => publish(input));
  const addOne = await best('publishDnf, add one collected rpm to the N', () => publish([...input, extraInput]), () => publish(input).then(() => undefined));
  const x = (t: number, b: number) => `${(t / b).toFixed(1)}x`;
  const against = (t: { wall: number; cpu: number }, b: { wall: number; cpu: number }) => `${x(t.wall, b.wall)} wall, ${x(t.cpu, b.cpu)} cpu`;
  const both = (t: { wall: number; cpu: number }) => against(t, baseline);
  console.log(`(a) steps of the best round (ms): ${JSON.stringify(placed.steps)}`);
  console.log(`(a) publish of collected rpms / baseline: ${both(placed)} (target <= 1.5x)`);
  const included = { wall: sign.wall + placed.wall, cpu: sign.cpu + placed.cpu };
  console.log(`(b) including signing (collect's signing + (a)): ${ms(included.wall)} vs ${ms(baseline.wall)}: ${both(included)} (target <= 1.5x); publish signing every header itself / baseline: ${both(selfSigned)}`);
  console.log(`(b) against the native toolchain (rpmsign --addsign, 2 processes, + createrepo_c): ${ms(included.wall)} vs ${ms(native.wall)}: ${against(included, native)}`);
  console.log(`floor: writing the N signed files alone (no signing) / createrepo_c: ${both(floor)}; createrepo_c + the floor / createrepo_c: ${x(baseline.wall + floor.wall, baseline.wall)} wall, ${x(baseline.cpu + floor.cpu, baseline.cpu)} cpu (<= 1.5x against createrepo_c alone needs the files written in under half of createrepo_c's time)`);
  console.log(`no-op ${ms(noop.wall)}; add one ${ms(addOne.wall)} (target <= 1000 ms)`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
