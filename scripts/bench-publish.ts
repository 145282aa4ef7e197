// Benchmark of publishApt on one suite of N (default 5,000) small .debs:
//   full publish (verify + copy into the pool + read control + indexes + sign),
//   the same with inputs: 'link' (hard links instead of copies),
//   no-op publish, and a publish that adds one package to the N.
// Baseline, same run, same pool: `apt-ftparchive packages` (+ gzip -9 of it)
// + `apt-ftparchive release`, which neither copies, verifies nor signs.
// Prints figures and ratios; asserts nothing.
import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DesiredDistribution } from '../reconciler/model.ts';
import { publishApt, type PublishPackage, type PublishReport } from '../reconciler/publish/index.ts';
import { generateKey, loadSigner } from '../reconciler/signing/signer.ts';
import { buildDeb, debFileName } from '../test/helpers/deb.ts';
import { createHash } from 'node:crypto';

const run = promisify(execFile);
const N = Number(process.argv[2] ?? 5000);
const ROUNDS = Number(process.argv[3] ?? 3);
const ms = (t: number) => `${t.toFixed(0).padStart(6)} ms`;

const dist: DesiredDistribution = {
  name: 'bench',
  file: 'distributions/bench.yaml',
  format: 'apt',
  suite: 'stable',
  codename: 'stable',
  components: ['main'],
  architectures: ['amd64'],
  origin: 'Kiln',
  label: 'Kiln bench',
  keep: 3,
  gate: 'none',
};

async function makeDeb(dir: string, i: number): Promise<PublishPackage> {
  const name = `pkg${String(i).padStart(5, '0')}`;
  const version = `1.${i}-1`;
  const bytes = await buildDeb({ name, version, arch: 'amd64', script: `echo ${name}`, depends: 'libc6 (>= 2.36)' });
  const file = debFileName(name, version, 'amd64');
  const path = join(dir, file);
  await writeFile(path, bytes);
  return { name, version, arch: 'amd64', files: [{ name: file, path, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') }] };
}

/** Run a command with stdout to a file; resolves with the elapsed ms. */
function timedToFile(cmd: string, args: string[], cwd: string, out: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'inherit'] });
    child.stdout.pipe(createWriteStream(out));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(performance.now() - t0) : reject(new Error(`${cmd} exited ${code}`))));
  });
}

function line(label: string, report: PublishReport): void {
  const d = report.durationsMs;
  console.log(
    `${label.padEnd(34)}${ms(d.total)}   (read ${d.read.toFixed(0)}, index ${d.index.toFixed(0)}, sign ${d.sign.toFixed(0)}, switch ${d.switch.toFixed(0)}, prune ${d.prune.toFixed(0)}; +${report.filesAdded.length} files, ${report.indexesWritten.length} indexes)`,
  );
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-bench-publish-'));
  try {
    const debs = join(dir, 'debs');
    await mkdir(debs);
    const signer = await loadSigner((await generateKey({ name: 'Kiln Bench', email: 'bench@kiln.invalid' })).privateKeyArmored);
    console.log(`bench-publish: ${N} .debs, one suite, ${dist.architectures.join(' ')}; node ${process.version}, ${(await run('nproc')).stdout.trim()} cores`);

    let t = performance.now();
    const packages: PublishPackage[] = [];
    for (let i = 0; i < N; i++) packages.push(await makeDeb(debs, i));
    console.log(`generate ${N} .debs in-process      ${ms(performance.now() - t)}`);

    // The machine is shared: every figure is the best of ROUNDS, measured interleaved.
    const best = new Map<string, PublishReport>();
    const keep = (label: string, r: PublishReport) => {
      const b = best.get(label);
      if (!b || r.durationsMs.total < b.durationsMs.total) best.set(label, r);
    };
    const base = { packages: Infinity, gzip: Infinity, release: Infinity, copy: Infinity };
    const one = await makeDeb(debs, N);
    for (let round = 0; round < ROUNDS; round++) {
      const root = join(dir, `repos-${round}`);
      keep('full', await publishApt({ root, distribution: dist, packages, signer, now: new Date() }));
      keep('noop', await publishApt({ root, distribution: dist, packages, signer, now: new Date() }));
      keep('plusOne', await publishApt({ root, distribution: dist, packages: [...packages, one], signer, now: new Date() }));
      const linkRoot = join(dir, `repos-linked-${round}`);
      keep('linked', await publishApt({ root: linkRoot, distribution: dist, packages, signer, now: new Date(), inputs: 'link' }));

      // Baseline on the same pool (the N+1 files now in it).
      const repo = join(root, dist.name);
      const ftp = join(dir, `ftp-${round}`);
      const idx = join(ftp, 'dists/stable/main/binary-amd64');
      await mkdir(idx, { recursive: true });
      base.packages = Math.min(base.packages, await timedToFile('apt-ftparchive', ['packages', 'pool'], repo, join(idx, 'Packages')));
      let t = performance.now();
      await run('gzip', ['-9', '-k', '-n', join(idx, 'Packages')]);
      base.gzip = Math.min(base.gzip, performance.now() - t);
      base.release = Math.min(base.release, await timedToFile('apt-ftparchive', ['release', 'dists/stable'], ftp, join(ftp, 'Release')));
      // For scale: only copying the same files, which apt-ftparchive does not do and publishApt must.
      t = performance.now();
      await run('cp', ['-r', debs, join(dir, `copy-${round}`)]);
      base.copy = Math.min(base.copy, performance.now() - t);
      await rm(root, { recursive: true, force: true });
      await rm(linkRoot, { recursive: true, force: true });
      await rm(ftp, { recursive: true, force: true });
      await rm(join(dir, `copy-${round}`), { recursive: true, force: true });
    }
    const full = best.get('full')!;
    const linked = best.get('linked')!;
    const plusOne = best.get('plusOne')!;
    line(`kiln full publish (${N})`, full);
    line(`kiln full publish, inputs: 'link'`, linked);
    line('kiln no-op publish', best.get('noop')!);
    line(`kiln add one package (${N + 1})`, plusOne);
    const baseline = base.packages + base.gzip + base.release;
    console.log(`apt-ftparchive packages (${N + 1})     ${ms(base.packages)}`);
    console.log(`gzip -9 Packages                   ${ms(base.gzip)}`);
    console.log(`apt-ftparchive release             ${ms(base.release)}`);
    console.log(`baseline (packages + gzip + release) ${ms(baseline)}   (no copy, no digest check, no signing)`);
    console.log(`for scale: cp -r of the ${N + 1} .debs    ${ms(base.copy)}   (not in the baseline)`);

    const withSign = full.durationsMs.total;
    const noSign = withSign - full.durationsMs.sign;
    console.log('');
    console.log(`full publish / baseline, signing included  ${(withSign / baseline).toFixed(2)}x   (target <= 1.5x)`);
    console.log(`full publish / baseline, signing excluded  ${(noSign / baseline).toFixed(2)}x`);
    console.log(`full publish 'link' / baseline, signed      ${(linked.durationsMs.total / baseline).toFixed(2)}x`);
    console.log(`add-one publish                            ${plusOne.durationsMs.total.toFixed(0)} ms   (target <= 1000 ms)`);
    console.log(`add-one publish / baseline                 ${(plusOne.durationsMs.total / baseline).toFixed(2)}x`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
