// Benchmark: reading the desired state, full vs incremental.
//   tsx scripts/bench-desired.ts [packages=2000] [changed=1]
// Baseline: a full read of a metadata repo with N packages. Measured against it:
// an incremental read (previous snapshot + tree diff) after `changed` files
// change, and the no-change read. Prints each time and the ratio to the baseline.
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { evaluateDesired } from '../reconciler/desired/read-desired.ts';

const run = promisify(execFile);
const N = Number(process.argv[2] ?? 2000);
const CHANGED = Number(process.argv[3] ?? 1);
const ENV = { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b' };
const git = (cwd: string, ...args: string[]) => run('git', args, { cwd, env: ENV, maxBuffer: 64 << 20 }).then((r) => r.stdout.trim());

const pkg = (i: number, version: string) =>
  `name: p${i}\nversion: ${version}\nsource:\n  git: ../src\n  ref: main\nformat: deb\narchitectures: [amd64]\nrelease: [testing]\n`;

async function time<T>(label: string, fn: () => Promise<T>, reps = 3): Promise<{ ms: number; value: T }> {
  let best = Infinity;
  let value!: T;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    value = await fn();
    best = Math.min(best, performance.now() - t0);
  }
  console.log(`${label.padEnd(44)} ${best.toFixed(1).padStart(9)} ms (best of ${reps})`);
  return { ms: best, value };
}

const root = await mkdtemp(join(tmpdir(), 'kiln-bench-desired-'));
try {
  const src = join(root, 'src');
  const meta = join(root, 'meta');
  await mkdir(src);
  await mkdir(join(meta, 'packages'), { recursive: true });
  await mkdir(join(meta, 'distributions'));
  await git(src, 'init', '-q', '-b', 'main');
  await git(src, 'commit', '-q', '--allow-empty', '-m', 'src');
  await git(meta, 'init', '-q', '-b', 'main');
  await writeFile(join(meta, 'kiln.yaml'), 'pools:\n  deb: {architectures: [amd64]}\n');
  await writeFile(join(meta, 'distributions/testing.yaml'), 'name: testing\nformat: apt\nsuite: testing\narchitectures: [amd64]\n');
  for (let i = 0; i < N; i++) await writeFile(join(meta, `packages/p${i}.yaml`), pkg(i, '1.0-1'));
  await git(meta, 'add', '-A');
  await git(meta, 'commit', '-q', '-m', 'base');
  const base = await git(meta, 'rev-parse', 'HEAD');
  for (let i = 0; i < CHANGED; i++) await writeFile(join(meta, `packages/p${i * Math.floor(N / CHANGED)}.yaml`), pkg(i * Math.floor(N / CHANGED), '2.0-1'));
  await git(meta, 'commit', '-q', '-am', 'change');
  const head = await git(meta, 'rev-parse', 'HEAD');
  console.log(`metadata repo: ${N} packages, ${CHANGED} changed between ${base.slice(0, 8)} and ${head.slice(0, 8)}`);

  const cache = {};
  const full = await time(`full read (${N + 2} files, shared cache)`, () => evaluateDesired({ dir: meta, rev: head, cache }));
  if (!full.value.state) throw new Error('bench repo is invalid: ' + JSON.stringify(full.value.diagnostics.slice(0, 3)));
  const cold = await time('full read (fresh cache each time)', () => evaluateDesired({ dir: meta, rev: head, cache: {} }));
  const prev = await evaluateDesired({ dir: meta, rev: base, cache });
  const inc = await time(`incremental read (${CHANGED} changed)`, () => evaluateDesired({ dir: meta, rev: head, cache, previous: prev.snapshot }));
  if (inc.value.reread !== CHANGED) throw new Error(`expected ${CHANGED} re-read files, got ${inc.value.reread}`);
  const same = await time('unchanged commit (previous = head)', () => evaluateDesired({ dir: meta, rev: head, cache, previous: full.value.snapshot }));
  const lsTree = await time('native `git ls-tree -r` (reference)', () => git(meta, 'ls-tree', '-r', 'HEAD'));

  console.log('');
  console.log(`ratio incremental / full:       ${(inc.ms / full.ms).toFixed(3)}  (${(full.ms / inc.ms).toFixed(1)}x faster)`);
  console.log(`ratio unchanged / full:         ${(same.ms / full.ms).toFixed(4)}`);
  console.log(`ratio full(cold) / full(warm):  ${(cold.ms / full.ms).toFixed(2)}`);
  console.log(`per file, full read:            ${((full.ms / (N + 2)) * 1000).toFixed(0)} µs`);
  console.log(`full read / git ls-tree:        ${(full.ms / lsTree.ms).toFixed(1)}x (ls-tree only lists; the read also parses and validates)`);
} finally {
  await rm(root, { recursive: true, force: true });
}
