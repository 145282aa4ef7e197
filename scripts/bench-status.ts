// Benchmark of the status branch writer and reader:
//   one status commit of 1,000 new build records on a branch holding 10,000.
// Baseline (same change, same repo): isomorphic-git's own writeBlob/writeTree/commit.
// Run: node --import tsx scripts/bench-status.ts [EXISTING]
import fs from 'node:fs';
import { rm } from 'node:fs/promises';
import git from 'isomorphic-git';
import { generateKey, loadSigner } from '../reconciler/signing/signer.ts';
import { readObserved } from '../reconciler/status/reader.ts';
import { buildRecordFile } from '../reconciler/status/records.ts';
import { recordPass, type StatusChange } from '../reconciler/status/writer.ts';
import type { BuildRecord } from '../schema/status.ts';
import { git as gitCmd, makeRepo } from '../test/helpers/git.ts';

/** Records already on the branch: `node --import tsx scripts/bench-status.ts [EXISTING]` (default 10,000). */
const EXISTING = Number(process.argv[2] ?? 10_000);
const NEW = 1_000;
const RUNS = 5;

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function record(i: number, desired: string): BuildRecord {
  return {
    key: i.toString(16).padStart(64, '0'),
    inputs: {
      package: `pkg-${i % 500}`,
      version: `1.${i}`,
      source: { url: `https://git.example/pkg-${i % 500}.git`, commit: i.toString(16).padStart(40, 'a') },
      recipe: { format: 'deb', rebuild: 0 },
      image: 'kiln/bookworm-debhelper',
      arch: i % 2 ? 'amd64' : 'arm64',
      target: 'stable',
    },
    pool: 'default',
    state: 'succeeded',
    desiredCommit: desired,
    attempts: [{ n: 1, dispatchedAt: '2026-01-01T00:00:00Z', agent: 'agent-1', outcome: 'succeeded', exitCode: 0 }],
    artifacts: [{ name: `pkg_1.${i}_amd64.deb`, sha256: i.toString(16).padStart(64, 'b'), size: 1234 }],
  };
}

function change(from: number, n: number, desired: string): StatusChange {
  const files = new Map<string, string | null>();
  for (let i = from; i < from + n; i++) files.set(...buildRecordFile(record(i, desired)));
  return { files, summary: `record ${n} builds`, trailers: { 'Kiln-Desired': desired, 'Kiln-Builds': n } };
}

async function time<T>(label: string, fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t0 = performance.now();
  const value = await fn();
  const ms = performance.now() - t0;
  console.log(`${label.padEnd(62)} ${ms.toFixed(0).padStart(6)} ms`);
  return { ms, value };
}

const key = await generateKey({ name: 'Kiln Bench', email: 'bench@kiln.invalid' });
const signer = await loadSigner(key.privateKeyArmored);
const { dir, commit: desired } = await makeRepo({ 'kiln.yaml': 'bench: true\n' });
try {
  const cache = {};
  const seeded = await time(`seed: ${EXISTING} records in one pass (cold)`, () =>
    recordPass({ dir, cache, signer, build: () => change(0, EXISTING, desired) }),
  );

  // The key figure, repeated from the same 10,000-record head (the ref is reset between runs): median of RUNS.
  const warmRuns: number[] = [];
  let warm!: { ms: number; value: Awaited<ReturnType<typeof recordPass>> };
  for (let r = 0; r < RUNS; r++) {
    await gitCmd(dir, 'update-ref', 'refs/heads/kiln/status', seeded.value.commit!);
    warm = await time(`recordPass: +${NEW} records, warm snapshot (run ${r + 1})`, () =>
      recordPass({ dir, cache, signer, previous: seeded.value.snapshot, build: () => change(EXISTING + 100_000 * (r + 1), NEW, desired) }),
    );
    warmRuns.push(warm.ms);
  }
  const warmMedian = median(warmRuns);
  const full = await time(`readObserved: full read of ${EXISTING + NEW} records (cache off)`, () =>
    readObserved({ dir, cache: {}, useCache: false }),
  );
  await time(`readObserved: first read in a fresh clone (full read, saves the cache)`, () => readObserved({ dir, cache: {} }));
  await time(`readObserved: fresh process, on-disk cache at head`, () => readObserved({ dir, cache: {} }));
  const cold = await time(`recordPass: +${NEW} records, fresh process (on-disk cache)`, () =>
    recordPass({ dir, cache: {}, signer, build: () => change(EXISTING + NEW, NEW, desired) }),
  );
  await time(`readObserved: fresh process, on-disk cache ${NEW} records behind`, () => readObserved({ dir, cache: {}, useCache: true }));
  const incr = await time(`readObserved: incremental, ${NEW} changed records`, () =>
    readObserved({ dir, cache, previous: warm.value.snapshot }),
  );
  const same = await time('readObserved: unchanged head', () => readObserved({ dir, cache, previous: incr.value.snapshot }));
  if (full.value.state.builds.size !== EXISTING + NEW || incr.value.stats.filesRead !== NEW || same.value.stats.filesRead !== 0) {
    throw new Error('benchmark read back the wrong number of records');
  }

  // Baseline: the same +1,000 change through isomorphic-git's writers (unsigned), median of RUNS.
  const baseRuns: number[] = [];
  for (let r = 0; r < RUNS; r++) baseRuns.push((await baseline(r)).ms);
  const baseMedian = median(baseRuns);

  console.log('');
  console.log(`target: +${NEW} records on ${EXISTING} in <= 1000 ms -> ${warmMedian <= 1000 ? 'MET' : 'MISSED'} (median ${warmMedian.toFixed(0)} ms, min ${Math.min(...warmRuns).toFixed(0)} ms of ${RUNS})`);
  console.log(`ratio recordPass(warm) / isomorphic-git baseline (medians): ${(warmMedian / baseMedian).toFixed(2)} (${(baseMedian / warmMedian).toFixed(1)}x faster)`);
  console.log(`ratio incremental read / full read: ${(incr.ms / full.ms).toFixed(3)}`);
  void cold;
  void same;

  async function baseline(r: number) {
   return time(`baseline: isomorphic-git writeBlob x${NEW} + writeTree + commit`, async () => {
    const head = await git.resolveRef({ fs, dir, ref: 'refs/heads/kiln/status' });
    const { commit } = await git.readCommit({ fs, dir, oid: head, cache });
    const root = (await git.readTree({ fs, dir, oid: commit.tree, cache })).tree;
    const buildsEntry = root.find((e) => e.path === 'builds')!;
    const builds = (await git.readTree({ fs, dir, oid: buildsEntry.oid, cache })).tree;
    const add = change(EXISTING + 200_000 * (r + 1), NEW, desired);
    for (const [path, content] of add.files) {
      const oid = await git.writeBlob({ fs, dir, blob: Buffer.from(content!) });
      builds.push({ mode: '100644', path: path.slice('builds/'.length), oid, type: 'blob' });
    }
    const buildsTree = await git.writeTree({ fs, dir, tree: builds });
    const newRoot = root.map((e) => (e.path === 'builds' ? { ...e, oid: buildsTree } : e));
    const tree = await git.writeTree({ fs, dir, tree: newRoot });
    return git.commit({ fs, dir, cache, tree, parent: [head], message: 'baseline', author: { name: 'b', email: 'b@x' }, noUpdateBranch: true });
   });
  }
} finally {
  await rm(dir, { recursive: true, force: true });
}
