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
// (no checks, no copies, no signatures). The rpms come from one host rpmbuild of
// a spec with N subpackages. Wall times, best of ROUNDS, and the CPU time of this
// process (all its threads) and its waited-for children (createrepo_c) in that
// best round: on a shared machine the CPU ratio moves less with the load than the
// wall ratio. (a) also prints publishDnf's own step timings (its log). Prints,
// asserts nothing.
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

/** publishDnf's step timings of the last publish (its info log). */
let steps: Record<string, number> = {};
const log = pino({ level: 'info' }, { write: (line: string) => void (steps = JSON.parse(line).ms ?? steps) });

type Timing = { wall: number; cpu: number; busy: number; steps: Record<string, number> };
type Case = { label: string; f: () => Promise<unknown>; before?: () => Promise<void> };

/** Per case, the best wall time of ROUNDS (the cases taking turns in each round), and the CPU time, this thread's busy time (event loop) and step timings of that round. */
async function inTurns(...cases: Case[]): Promise<Timing[]> {
  const min = cases.map((): Timing => ({ wall: Infinity, cpu: Infinity, busy: Infinity, steps: {} }));
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, { f, before }] of cases.entries()) {
      await before?.();
      const [t0, c0, e0] = [performance.now(), cpuMs(), performance.eventLoopUtilization()];
      await f();
      const wall = performance.now() - t0;
      if (wall < min[i].wall) min[i] = { wall, cpu: cpuMs() - c0, busy: performance.eventLoopUtilization(e0).active, steps };
    }
  }
  cases.forEach(({ label }, i) => console.log(`${label.padEnd(52)} ${ms(min[i].wall)}   cpu ${ms(min[i].cpu)}   this thread busy ${ms(min[i].busy)}`));
  return min;
}

const best = async (label: string, f: () => Promise<unknown>, before?: () => Promise<void>): Promise<Timing> => (await inTurns({ label, f, before }))[0];

const dir = await mkdtemp(join(tmpdir(), 'kiln-bench-dnf-'));
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
  const cache = join(dir, 'cache');
  console.log(`${N} rpms, best of ${ROUNDS}; load ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  const publish = (packages: RpmInput[]) => publishDnf({ root, distribution: { name: 'bench' }, packages, signer, now: new Date(), log });
  const baseline = await best('createrepo_c --no-database (baseline)', () => run('createrepo_c', ['--quiet', '--no-database', base]), () => rm(join(base, 'repodata'), { recursive: true, force: true }));
  let signed: HeaderSigned[] = [];
  const facts = await headerFacts([...rpms, extra]);
  const bytes = await bytesOf([...rpms, extra]);
  const floorDir = join(dir, 'floor');
  // Taking turns: what creating a file costs here changes from minute to minute (other processes' I/O).
  const [sign, floor] = await inTurns(
    { label: 'collect: sign N rpm headers (signRpmHeaders)', f: async () => (signed = await collectSign(rpms, signer, cache, facts, bytes)), before: () => rm(cache, { recursive: true, force: true }) },
    { label: 'floor: write N files of their sizes (no signing)', f: () => pMap(rpms, (r) => storeVerified(floorDir, r.sha256, bytes.get(r.sha256)!), { concurrency: 8 }), before: () => rm(floorDir, { recursive: true, force: true }) },
  );
  const input = collected(rpms, signed, cache);
  const [extraSigned] = await collectSign([extra], signer, cache, facts, bytes);
  const extraInput = collected([extra], [extraSigned], cache)[0];
  const placed = await best('(a) publishDnf, N collected rpms', () => publish(input), fresh);
  const selfSigned = await best('(b) publishDnf signing every header itself', () => publish(rpms), fresh);
  const noop = await best('publishDnf, no change', () => publish(input));
  const addOne = await best('publishDnf, add one collected rpm to the N', () => publish([...input, extraInput]), () => publish(input).then(() => undefined));
  const x = (t: number, b: number) => `${(t / b).toFixed(1)}x`;
  const both = (t: { wall: number; cpu: number }) => `${x(t.wall, baseline.wall)} wall, ${x(t.cpu, baseline.cpu)} cpu`;
  console.log(`(a) steps of the best round (ms): ${JSON.stringify(placed.steps)}`);
  console.log(`(a) publish of collected rpms / baseline: ${both(placed)} (target <= 1.5x)`);
  const included = { wall: sign.wall + placed.wall, cpu: sign.cpu + placed.cpu };
  console.log(`(b) including signing (collect's signing + (a)): ${ms(included.wall)} vs ${ms(baseline.wall)}: ${both(included)} (target <= 1.5x); the N files alone (floor) / baseline: ${both(floor)}; publish signing every header itself / baseline: ${both(selfSigned)}`);
  console.log(`no-op ${ms(noop.wall)}; add one ${ms(addOne.wall)} (target <= 1000 ms)`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
