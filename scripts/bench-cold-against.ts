// The cold plan (read every file + plan) of this tree against the same at another revision, in one
// process on one generated repo, the two taking turns (five rounds each after a warm-up): a ratio of
// CPU time that a loaded machine inflates much less than wall time. The other revision is exported
// with `git archive` into a temp dir that shares this tree's node_modules.
//   node --expose-gc --import tsx scripts/bench-cold-against.ts REV [packages=10000]
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, symlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { generateRepo } from './bench-repo.ts';

const log = pino({ level: 'warn' });
const here = resolve(import.meta.dirname, '..');

type ColdPlan = (dir: string) => Promise<number>;

/** The cold plan of the tree at `root`, as scripts/bench-plan.ts runs it. */
async function coldPlanOf(root: string): Promise<ColdPlan> {
  const { readDesired } = await import(join(root, 'reconciler/desired/read-desired.ts'));
  const { readObserved } = await import(join(root, 'reconciler/status/reader.ts'));
  const { plan } = await import(join(root, 'reconciler/plan/plan.ts'));
  return async (dir) => {
    const cache = {};
    const { state: desired } = await readDesired({ dir, rev: 'HEAD', cache, log });
    const { state: observed } = await readObserved({ dir, cache, log });
    return plan(desired, observed, { now: new Date() }).actions.length;
  };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const rev = process.argv[2];
const n = Number(process.argv[3] ?? 10000);
if (!rev) throw new Error('usage: bench-cold-against.ts REV [packages]');
const other = await mkdtemp(join(tmpdir(), 'kiln-bench-against-'));
const dir = await generateRepo(n);
try {
  execFileSync('sh', ['-c', `git -C "${here}" archive "${rev}" | tar -x -C "${other}"`]);
  await symlink(join(here, 'node_modules'), join(other, 'node_modules'));
  const runs = { [rev]: await coldPlanOf(other), this: await coldPlanOf(here) };
  const cpu: Record<string, number[]> = { [rev]: [], this: [] };
  const wall: Record<string, number[]> = { [rev]: [], this: [] };
  for (let round = 0; round < 6; round++) {
    for (const k of round % 2 ? ['this', rev] : [rev, 'this']) {
      (globalThis as { gc?: () => void }).gc?.();
      const c = process.cpuUsage();
      const t = performance.now();
      const actions = await runs[k](dir);
      const w = performance.now() - t;
      const used = process.cpuUsage(c);
      if (actions !== n) throw new Error(`${k}: ${actions} actions, expected ${n}`);
      if (round === 0) continue; // warm-up: module compilation, first-use caches
      cpu[k].push((used.user + used.system) / 1000);
      wall[k].push(w);
    }
  }
  for (const k of [rev, 'this']) console.log(`${k.padEnd(12)} cold plan of ${n}: CPU ${median(cpu[k]).toFixed(0)} ms, wall ${median(wall[k]).toFixed(0)} ms (medians of 5; CPU ${cpu[k].map(Math.round).join(', ')})`);
  console.log(`this / ${rev}: CPU ${(median(cpu.this) / median(cpu[rev])).toFixed(2)}×, wall ${(median(wall.this) / median(wall[rev])).toFixed(2)}×`);
} finally {
  await rm(dir, { recursive: true, force: true, maxRetries: 5 });
  await rm(other, { recursive: true, force: true });
}
