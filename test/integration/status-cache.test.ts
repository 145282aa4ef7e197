// The on-disk observed-state cache (<gitdir>/kiln/observed.json) in real repos:
// a fresh reader starts from it and reads only what changed; anything stale
// or wrong in it is ignored in favour of git.
import assert from 'node:assert/strict';
import { readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import type { BuildRecord } from '../../schema/status.ts';
import { generateKey, loadSigner, type Signer } from '../../reconciler/signing/signer.ts';
import { readObserved } from '../../reconciler/status/reader.ts';
import { buildRecordFile } from '../../reconciler/status/records.ts';
import { cachePath } from '../../reconciler/status/snapshot-cache.ts';
import { recordPass } from '../../reconciler/status/writer.ts';
import { git, makeRepo } from '../helpers/git.ts';

let signer: Signer;
before(async () => {
  signer = await loadSigner((await generateKey({ name: 'Kiln Cache', email: 'cache@kiln.invalid' })).privateKeyArmored);
});

function build(n: number, desired: string, state: BuildRecord['state'] = 'queued'): BuildRecord {
  return {
    key: n.toString(16).padStart(64, '0'),
    inputs: { package: 'p', version: `1.${n}`, source: { url: 'u', commit: 'c' }, recipe: { format: 'deb', rebuild: 0 }, image: 'i', arch: 'amd64', target: 's' },
    pool: 'default',
    state,
    attempts: [],
    desiredCommit: desired,
  };
}

async function seeded(t: { after: (fn: () => Promise<void>) => void }, n = 250) {
  const { dir, commit: desired } = await makeRepo({ 'kiln.yaml': 'x: 1\n' });
  t.after(() => rm(dir, { recursive: true, force: true }));
  const res = await recordPass({
    dir,
    cache: {},
    signer,
    build: () => ({ files: new Map(Array.from({ length: n }, (_, i) => buildRecordFile(build(i, desired)))), summary: 'seed', trailers: { 'Kiln-Desired': desired } }),
  });
  return { dir, desired, commit: res.commit! };
}

test('status cache - a fresh reader starts from the on-disk cache and reads only what changed since', async (t) => {
  const { dir, desired } = await seeded(t);
  const first = await readObserved({ dir, cache: {} });
  assert.equal(first.stats.mode, 'full');
  assert.ok((await stat(cachePath(join(dir, '.git')))).isFile(), 'a big read saves the cache');

  const again = await readObserved({ dir, cache: {} });
  assert.deepEqual(again.stats, { mode: 'unchanged', filesRead: 0, cached: true });
  assert.deepEqual(again.state, first.state);

  const next = await recordPass({
    dir,
    cache: {},
    signer,
    previous: first.snapshot,
    build: () => ({ files: new Map([buildRecordFile(build(3, desired, 'succeeded')), [buildRecordFile(build(4, desired))[0], null]]), summary: 'two', trailers: {} }),
  });
  const fresh = await readObserved({ dir, cache: {} });
  assert.deepEqual(fresh.stats, { mode: 'incremental', filesRead: 1, cached: true });
  const truth = await readObserved({ dir, cache: {}, useCache: false });
  assert.equal(truth.stats.filesRead, 249);
  assert.deepEqual(fresh.state, truth.state);
  assert.deepEqual(fresh.state, next.observed);
  assert.equal(await git(dir, 'status', '--porcelain'), '', 'the cache lives in .git, not in the work tree');
});

test('status cache - a corrupt, tampered or foreign cache is ignored and git is read instead', async (t) => {
  const { dir } = await seeded(t);
  const file = cachePath(join(dir, '.git'));
  await readObserved({ dir, cache: {} });
  const good = JSON.parse(await readFile(file, 'utf8'));

  await writeFile(file, '{ not json');
  assert.equal((await readObserved({ dir, cache: {}, useCache: true })).stats.mode, 'full');

  // A record that would not validate: the whole cache is refused.
  const tampered = structuredClone(good);
  tampered.records[0][1].state = 'exploded';
  await writeFile(file, JSON.stringify(tampered));
  const r1 = await readObserved({ dir, cache: {} });
  assert.equal(r1.stats.mode, 'full');
  assert.equal(r1.state.builds.size, 250);

  // A cache claiming a tree its commit does not have.
  const foreign = { ...good, tree: '0'.repeat(40) };
  await writeFile(file, JSON.stringify(foreign));
  assert.equal((await readObserved({ dir, cache: {} })).stats.mode, 'full');
});
