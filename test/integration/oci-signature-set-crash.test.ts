// A manifest's lookaside signature set replaced under kill -9 (a real child process
// killed after a seeded number of swaps, while it swaps between two sets): on disk the set
// is always one of the two whole sets, and a re-run converges with no leftovers.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { test } from 'node:test';
import { readSignatureSet, replaceSignatureSet } from '../../oci/signature-set.ts';
import { seededRandom } from '../helpers/seeded.ts';
import { until } from '../helpers/until.ts';

const A = ['a1', 'a2', 'a3'].map((s) => Buffer.from(s));
const B = [Buffer.from('b1')];
const ROUNDS = 5;

const same = (x: Uint8Array[], y: Uint8Array[]) => x.length === y.length && x.every((b, i) => Buffer.compare(b, y[i]) === 0);

test('oci signature set - a kill at any point leaves the old or the new set; a re-run converges', async (t) => {
  const { random } = seededRandom(t);
  const dir = await mkdtemp(join(tmpdir(), 'kiln-sigset-crash-'));
  const manifest = join(dir, 'kiln', 'app@sha256=' + 'f'.repeat(64));
  const module = resolve(import.meta.dirname, '../../oci/signature-set.ts');
  const script = `import { replaceSignatureSet } from ${JSON.stringify(module)};
const A = ${JSON.stringify(A.map(String))}.map((s) => Buffer.from(s)), B = ${JSON.stringify(B.map(String))}.map((s) => Buffer.from(s));
let n = 0;
for (;;) { await replaceSignatureSet(${JSON.stringify(manifest)}, n++ % 2 ? B : A); process.stdout.write('swapped\\n'); }`;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      const exited = new Promise((r) => child.on('exit', r));
      // The fault point, by progress: after a seeded number of swaps, while the child is in the next one.
      const swaps = 2 + Math.floor(random() * 60);
      await until(() => out.split('swapped').length - 1 >= swaps, 60_000, `the child's ${swaps} swaps`, 1);
      child.kill('SIGKILL');
      await exited;
      const left = await readSignatureSet(manifest);
      assert.ok(same(left, A) || same(left, B), `round ${round}: after the kill the set is ${left.map(String)}`);
    }
    await replaceSignatureSet(manifest, B);
    assert.ok(same(await readSignatureSet(manifest), B));
    const names = (await readdir(join(dir, 'kiln'))).sort();
    assert.equal(names.length, 2, `the link and one generation, found ${names.join(', ')}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('oci signature set - a partial generation (a removal killed half-way) is rebuilt, never linked as it is', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-sigset-partial-'));
  const manifest = join(dir, 'kiln', 'app@sha256=' + 'e'.repeat(64));
  try {
    await replaceSignatureSet(manifest, A);
    await replaceSignatureSet(manifest, B);
    // What a kill during the old recursive rm left: A's generation under its own name, signature-1 gone.
    await replaceSignatureSet(manifest, A);
    const generation = join(dirname(manifest), await readlink(manifest));
    await replaceSignatureSet(manifest, B);
    await mkdir(generation);
    await writeFile(join(generation, 'signature-2'), A[1]);
    await replaceSignatureSet(manifest, A);
    assert.ok(same(await readSignatureSet(manifest), A), `the set is ${(await readSignatureSet(manifest)).map(String)}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
