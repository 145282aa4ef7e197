// Benchmark of publishApt on one suite of N (default 5,000) small .debs, each
// with its source package (a .dsc and a small tarball, as agents upload them):
//   full publish (verify + copy into the pool + read control + indexes + sign),
//   the same with inputs: 'link' (hard links instead of copies),
//   no-op publish, and a publish that adds one package to the N.
// Baseline, same run, same pool: `apt-ftparchive packages` and `apt-ftparchive
// sources` (+ gzip -9 and xz -6 of each) + `apt-ftparchive release`, which
// neither copies, verifies nor signs.
// Wall and CPU (user+sys) times; every figure is the best of ROUNDS.
// Prints figures and ratios; asserts nothing.
import { execFile, spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { publishApt, type PublishPackage, type PublishReport } from '../reconciler/publish/index.ts';
import { generateKey, loadSigner } from '../reconciler/signing/signer.ts';
import { buildDeb, debFileName } from '../test/helpers/deb.ts';
import { createHash } from 'node:crypto';
import { aptDistribution } from '../test/helpers/distribution.ts';

const run = promisify(execFile);
const N = Number(process.argv[2] ?? 5000);
const ROUNDS = Number(process.argv[3] ?? 3);
const ms = (t: number) => `${t.toFixed(0).padStart(6)} ms`;

const dist = aptDistribution('bench', { suite: 'stable', codename: 'stable', label: 'Kiln bench' });

async function inputFile(dir: string, name: string, bytes: Buffer | Uint8Array): Promise<PublishPackage['files'][number]> {
  const path = join(dir, name);
  await writeFile(path, bytes);
  return { name, path, size: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
}

/** A 3.0 (native) source package's files: the tarball (its bytes need not be a tree: nothing unpacks it here) and the .dsc listing it. */
async function makeSource(dir: string, name: string, version: string): Promise<PublishPackage['files']> {
  const tar = await inputFile(dir, `${name}_${version}.tar.xz`, Buffer.from(`${name} ${version} source `.repeat(40)));
  const md5 = createHash('md5').update(`${name} ${version} source `.repeat(40)).digest('hex');
  const dsc =
    `Format: 3.0 (native)\nSource: ${name}\nBinary: ${name}\nArchitecture: any\nVersion: ${version}\nMaintainer: Kiln Bench <bench@kiln.invalid>\n` +
    `Build-Depends: debhelper-compat (= 13)\nPackage-List:\n ${name} deb misc optional arch=any\n` +
    `Checksums-Sha256:\n ${tar.sha256} ${tar.size} ${tar.name}\nFiles:\n ${md5} ${tar.size} ${tar.name}\n`;
  return [await inputFile(dir, `${name}_${version}.dsc`, Buffer.from(dsc)), tar];
}

async function makeDeb(dir: string, i: number): Promise<PublishPackage> {
  const name = `pkg${String(i).padStart(5, '0')}`;
  const version = `1.${i}`;
  const bytes = await buildDeb({ name, version, arch: 'amd64', script: `echo ${name}`, depends: 'libc6 (>= 2.36)' });
  const deb = await inputFile(dir, debFileName(name, version, 'amd64'), bytes);
  return { name, version, arch: 'amd64', files: [deb, ...(await makeSource(dir, name, version))] };
}

interface Timing {
  wall: number;
  /** user + system CPU ms: steadier than wall time on a shared machine. */
  cpu: number;
}

/** Run a command with stdout to a file, under /usr/bin/time for its CPU time. */
async function timedToFile(cmd: string, args: string[], cwd: string, out: string): Promise<Timing> {
  const timeFile = `${out}.time`;
  const t0 = performance.now();
  await new Promise<void>((resolve, reject) => {
    // stderr only on failure: apt-ftparchive sources warns about every missing override.
    const child = spawn('/usr/bin/time', ['-f', '%U %S', '-o', timeFile, cmd, ...args], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stdout.pipe(createWriteStream(out));
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited ${code}: ${err.trim().slice(-2000)}`))));
  });
  const wall = performance.now() - t0;
  const [user, sys] = (await readFile(timeFile, 'utf8')).trim().split(/\s+/).map(Number);
  return { wall, cpu: (user + sys) * 1000 };
}

/** publishApt, with the CPU time this process spent in it. */
async function timedPublish(input: Parameters<typeof publishApt>[0]): Promise<PublishReport & { cpu: number }> {
  const c = process.cpuUsage();
  const report = await publishApt(input);
  const u = process.cpuUsage(c);
  return { ...report, cpu: (u.user + u.system) / 1000 };
}

function line(label: string, report: PublishReport & { cpu: number }): void {
  const d = report.durationsMs;
  console.log(
    `${label.padEnd(34)}${ms(d.total)}  cpu ${ms(report.cpu)}   (read ${d.read.toFixed(0)}, index ${d.index.toFixed(0)}, sign ${d.sign.toFixed(0)}, switch ${d.switch.toFixed(0)}, prune ${d.prune.toFixed(0)}; +${report.filesAdded.length} files, ${report.indexesWritten.length} indexes)`,
  );
}

async function main(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-bench-publish-'));
  try {
    const debs = join(dir, 'debs');
    await mkdir(debs);
    const signer = await loadSigner((await generateKey({ name: 'Kiln Bench', email: 'bench@kiln.invalid' })).privateKeyArmored);
    console.log(`bench-publish: ${N} .debs and source packages, one suite, ${dist.architectures.join(' ')}; node ${process.version}, ${(await run('nproc')).stdout.trim()} cores`);

    let t = performance.now();
    const packages: PublishPackage[] = [];
    for (let i = 0; i < N; i++) packages.push(await makeDeb(debs, i));
    console.log(`generate ${N} .debs + sources in-process      ${ms(performance.now() - t)}`);

    // The machine is shared: every figure is the best of ROUNDS, measured interleaved.
    const best = new Map<string, PublishReport & { cpu: number }>();
    const bestCpu = new Map<string, number>();
    const keep = (label: string, r: PublishReport & { cpu: number }) => {
      const b = best.get(label);
      if (!b || r.durationsMs.total < b.durationsMs.total) best.set(label, r);
      bestCpu.set(label, Math.min(bestCpu.get(label) ?? Infinity, r.cpu));
    };
    const base = { packages: Infinity, gzip: Infinity, release: Infinity, copy: Infinity };
    const baseCpu = { packages: Infinity, gzip: Infinity, release: Infinity };
    const sum = (ts: Timing[]) => ({ wall: ts.reduce((a, b) => a + b.wall, 0), cpu: ts.reduce((a, b) => a + b.cpu, 0) });
    const one = await makeDeb(debs, N);
    for (let round = 0; round < ROUNDS; round++) {
      const root = join(dir, `repos-${round}`);
      keep('full', await timedPublish({ root, distribution: dist, packages, signer, now: new Date() }));
      keep('noop', await timedPublish({ root, distribution: dist, packages, signer, now: new Date() }));
      keep('plusOne', await timedPublish({ root, distribution: dist, packages: [...packages, one], signer, now: new Date() }));
      const linkRoot = join(dir, `repos-linked-${round}`);
      keep('linked', await timedPublish({ root: linkRoot, distribution: dist, packages, signer, now: new Date(), inputs: 'link' }));

      // Baseline on the same pool (the N+1 files now in it).
      const repo = join(root, dist.name);
      const ftp = join(dir, `ftp-${round}`);
      const idx = join(ftp, 'dists/stable/main/binary-amd64');
      const srcIdx = join(ftp, 'dists/stable/main/source');
      await mkdir(idx, { recursive: true });
      await mkdir(srcIdx, { recursive: true });
      const pk = sum([
        await timedToFile('apt-ftparchive', ['packages', 'pool'], repo, join(idx, 'Packages')),
        await timedToFile('apt-ftparchive', ['sources', 'pool'], repo, join(srcIdx, 'Sources')),
      ]);
      const gz = sum([
        await timedToFile('gzip', ['-9', '-n', '-c', join(idx, 'Packages')], idx, join(idx, 'Packages.gz')),
        await timedToFile('xz', ['-6', '-T1', '-c', join(idx, 'Packages')], idx, join(idx, 'Packages.xz')),
        await timedToFile('gzip', ['-9', '-n', '-c', join(srcIdx, 'Sources')], srcIdx, join(srcIdx, 'Sources.gz')),
        await timedToFile('xz', ['-6', '-T1', '-c', join(srcIdx, 'Sources')], srcIdx, join(srcIdx, 'Sources.xz')),
      ]);
      const rel = await timedToFile('apt-ftparchive', ['release', 'dists/stable'], ftp, join(ftp, 'Release'));
      base.packages = Math.min(base.packages, pk.wall);
      base.gzip = Math.min(base.gzip, gz.wall);
      base.release = Math.min(base.release, rel.wall);
      baseCpu.packages = Math.min(baseCpu.packages, pk.cpu);
      baseCpu.gzip = Math.min(baseCpu.gzip, gz.cpu);
      baseCpu.release = Math.min(baseCpu.release, rel.cpu);
      let t: number;
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
    const baselineCpu = baseCpu.packages + baseCpu.gzip + baseCpu.release;
    console.log(`apt-ftparchive packages + sources (${N + 1}) ${ms(base.packages)}  cpu ${ms(baseCpu.packages)}`);
    console.log(`gzip -9 + xz -6 of both            ${ms(base.gzip)}  cpu ${ms(baseCpu.gzip)}`);
    console.log(`apt-ftparchive release             ${ms(base.release)}  cpu ${ms(baseCpu.release)}`);
    console.log(`baseline (indexes + compression + release) ${ms(baseline)}  cpu ${ms(baselineCpu)}   (no copy, no digest check, no signing)`);
    console.log(`for scale: cp -r of the ${N + 1} .debs    ${ms(base.copy)}   (not in the baseline)`);

    const withSign = full.durationsMs.total;
    const noSign = withSign - full.durationsMs.sign;
    console.log('');
    console.log(`full publish / baseline, signing included  ${(withSign / baseline).toFixed(2)}x   (target <= 1.5x)`);
    console.log(`full publish / baseline, signing excluded  ${(noSign / baseline).toFixed(2)}x`);
    console.log(`full publish / baseline, CPU time          ${(bestCpu.get('full')! / baselineCpu).toFixed(2)}x   (steadier on a shared machine; kiln's figure leaves out its xz child processes)`);
    console.log(`full publish 'link' / baseline, CPU time   ${(bestCpu.get('linked')! / baselineCpu).toFixed(2)}x`);
    console.log(`full publish 'link' / baseline, signed      ${(linked.durationsMs.total / baseline).toFixed(2)}x`);
    console.log(`add-one publish                            ${plusOne.durationsMs.total.toFixed(0)} ms   (target <= 1000 ms)`);
    console.log(`add-one publish / baseline                 ${(plusOne.durationsMs.total / baseline).toFixed(2)}x`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
