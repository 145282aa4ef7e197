// Benchmark: a real Docker build of examples/sources/hello-kiln through the
// agent (publish job → BuildResult received: source fetch, container, upload,
// result) against the same build by hand (`cp` + `docker run … dpkg-buildpackage`).
//   tsx scripts/bench-agent-build.ts [runs]
import { execFile } from 'node:child_process';
import { chown, cp, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Agent } from '../agents/agent.ts';
import { makeJob, publishJob, quietLog, startHarness, takeResults } from '../test/fixtures/agent-jobs.ts';
import { EXAMPLE_DIR, exampleSource, makeDebRepo } from '../test/fixtures/deb-source.ts';
import { BUILD_IMAGE } from '../test/helpers/docker.ts';

const run = promisify(execFile);
const runs = Number(process.argv[2] ?? 5);

async function chownTree(dir: string): Promise<void> {
  await chown(dir, 1000, 1000);
  for (const f of await readdir(dir, { recursive: true })) await chown(join(dir, f), 1000, 1000);
}

async function byHand(): Promise<number> {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-bench-'));
  try {
    const t0 = performance.now();
    await cp(EXAMPLE_DIR, join(dir, 'src'), { recursive: true });
    await chownTree(dir);
    await run('docker', ['run', '--rm', '--network', 'none', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges', '--user', '1000:1000',
      '-e', 'HOME=/tmp', '-m', '1024m', '--memory-swap', '1024m', '--pids-limit', '512', '--cpus', '1',
      '-v', `${dir}:/build`, '-w', '/build/src', BUILD_IMAGE, 'dpkg-buildpackage', '-us', '-uc', '-b']);
    const ms = performance.now() - t0;
    const debs = (await readdir(dir)).filter((f) => f.endsWith('.deb'));
    if (debs.length === 0) throw new Error('by-hand build produced no .deb');
    return ms;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const h = await startHarness();
const agent = new Agent({ nc: h.nc, pool: 'deb', arch: 'amd64', workDir: h.workDir, log: quietLog, id: 'bench-agent' });
try {
  await agent.start();
  const repo = await makeDebRepo(await exampleSource(), h.workDir);
  const viaAgent: number[] = [];
  let phases = '';
  const manual: number[] = [];
  await byHand(); // warm the page cache and the engine once
  for (let i = 0; i < runs; i++) {
    manual.push(await byHand());
    const job = makeJob({ url: repo.dir, commit: repo.commit, package: 'hello-kiln' });
    const t0 = performance.now();
    await publishJob(h.nc, job);
    const [r] = await takeResults(h.nc, 1, 300_000);
    viaAgent.push(performance.now() - t0);
    if (r.outcome !== 'succeeded') throw new Error(`agent build failed: ${r.reason}\n${r.logTail}`);
    phases = (r.logTail ?? '').split('\n').filter((l) => l.startsWith('kiln: succeeded')).pop() ?? '';
  }
  const fmt = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  console.log(`hello-kiln, ${runs} runs each (ms)`);
  console.log(`  by hand (cp + docker run dpkg-buildpackage): median ${median(manual).toFixed(0)}  [${fmt(manual)}]`);
  console.log(`  through the agent (job -> result):          median ${median(viaAgent).toFixed(0)}  [${fmt(viaAgent)}]`);
  console.log(`  ratio agent / by hand: ${(median(viaAgent) / median(manual)).toFixed(2)}`);
  console.log(`  last agent build, by phase: ${phases.replace(/^kiln: /, '')}`);
} finally {
  await agent.close();
  await h.close();
}
