// Benchmark: how long a `kiln` command takes to start, as a user types it (node bin/kiln.js,
// a fresh process each time), against two baselines run in the same script: node itself
// (`node -e 0`) and node with tsx registered and nothing else loaded (the floor every
// command pays, as it runs TypeScript through tsx). Commands that only print (help texts,
// the version) measure start-up alone: which modules a command loads before it does anything.
// Each: the median wall time of RUNS runs (default 9), taking turns, after one untimed run each.
// Run: node --import tsx scripts/bench-cli.ts [RUNS]
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const RUNS = Math.max(3, Number(process.argv[2] ?? 9));
const ROOT = fileURLToPath(new URL('..', import.meta.url));
const KILN = join(ROOT, 'bin/kiln.js');


const cases: Array<[string, string[]]> = [
  ['node -e 0', ['-e', '0']],
  ['node + tsx registered', ['--import', 'tsx', '-e', '0']],
  ['kiln version', [KILN, 'version']],
  ['kiln --help', [KILN, '--help']],
  ['kiln status --help', [KILN, 'status', '--help']],
  ['kiln agent --help', [KILN, 'agent', '--help']],
  ['kiln reconcile --help', [KILN, 'reconcile', '--help']],
];

function once(args: string[]): number {
  const t = process.hrtime.bigint();
  // From the repo, where `--import tsx` resolves as bin/kiln.js's own import does; nothing here writes.
  const r = spawnSync(process.execPath, args, { cwd: ROOT, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - t) / 1e6;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const times = new Map<string, number[]>(cases.map(([name]) => [name, []]));
for (const [, args] of cases) once(args); // tsx's transform cache and the page cache warm
for (let i = 0; i < RUNS; i++) for (const [name, args] of cases) times.get(name)!.push(once(args));
const floor = median(times.get('node + tsx registered')!);
console.log(`bench-cli: median of ${RUNS} runs each, taking turns (fresh processes)`);
for (const [name] of cases) {
  const m = median(times.get(name)!);
  const ratio = name.startsWith('kiln') ? `  ${(m / floor).toFixed(2)}× node + tsx` : '';
  console.log(`  ${name.padEnd(24)} ${m.toFixed(0).padStart(6)} ms${ratio}`);
}
