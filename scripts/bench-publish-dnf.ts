// Benchmark of publishDnf on one repository of N (default 2,000) small rpms:
//   full publish (digest + header check, copy, rpmsign of every header,
//   createrepo_c, signed repomd.xml), no-op publish, and adding one rpm to the N.
// Baseline, same run, same rpms: `createrepo_c --no-database` of the directory
// (no checks, no copies, no signatures). The rpms come from one host rpmbuild of
// a spec with N subpackages. Wall times, best of ROUNDS; prints, asserts nothing.
import { execFile } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sha256File } from '../reconciler/publish/apt/hashes.ts';
import { publishDnf, type RpmInput } from '../reconciler/publish/dnf/publish.ts';
import { generateKey, loadSigner } from '../reconciler/signing/signer.ts';

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

async function best(label: string, f: () => Promise<unknown>, before?: () => Promise<void>): Promise<number> {
  let min = Infinity;
  for (let r = 0; r < ROUNDS; r++) {
    await before?.();
    const t0 = performance.now();
    await f();
    min = Math.min(min, performance.now() - t0);
  }
  console.log(`${label.padEnd(48)} ${ms(min)}`);
  return min;
}

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
  console.log(`${N} rpms, best of ${ROUNDS}`);
  const baseline = await best('createrepo_c --no-database (baseline)', () => run('createrepo_c', ['--quiet', '--no-database', base]), () => rm(join(base, 'repodata'), { recursive: true, force: true }));
  const full = await best('publishDnf, full (sign every header)', () => publishDnf({ root, distribution: { name: 'bench' }, packages: rpms, signer, now: new Date() }), fresh);
  const noop = await best('publishDnf, no change', () => publishDnf({ root, distribution: { name: 'bench' }, packages: rpms, signer, now: new Date() }));
  const addOne = await best('publishDnf, add one rpm to the N', () => publishDnf({ root, distribution: { name: 'bench' }, packages: [...rpms, extra], signer, now: new Date() }), () =>
    publishDnf({ root, distribution: { name: 'bench' }, packages: rpms, signer, now: new Date() }).then(() => undefined));
  console.log(`ratio full / baseline: ${(full / baseline).toFixed(1)}x (target <= 1.5x); no-op ${ms(noop)}; add one ${ms(addOne)} (target <= 1000 ms)`);
} finally {
  await rm(dir, { recursive: true, force: true });
}
