// Two writers racing on the same status branch: separate processes (and, more
// cheaply, separate caches in one process) each record 50 builds, one pass per
// build. Afterwards all 100 are there, history is linear, every commit is signed.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { generateKey, loadSigner, type GeneratedKey } from '../../reconciler/signing/signer.ts';
import { recordPass } from '../../reconciler/status/writer.ts';
import { buildRecordFile } from '../../reconciler/status/records.ts';
import type { BuildRecord } from '../../schema/status.ts';
import { git, makeRepo } from '../helpers/git.ts';
import { makeGpgHome, type GpgHome } from '../helpers/gpg.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PER_WRITER = 50;
let key: GeneratedKey;
let gpg: GpgHome;
let scratch: string;

before(async () => {
  key = await generateKey({ name: 'Kiln Race', email: 'race@kiln.invalid' });
  gpg = await makeGpgHome(key.publicKeyArmored);
  scratch = await mkdtemp(join(tmpdir(), 'kiln-race-'));
});
after(async () => {
  await gpg.dispose();
  await rm(scratch, { recursive: true, force: true });
});

function build(writer: number, i: number, desired: string): BuildRecord {
  return {
    key: `${writer}`.padStart(8, '0') + i.toString(16).padStart(56, '0'),
    inputs: { package: `w${writer}`, version: `1.${i}`, source: { url: 'u', commit: 'c' }, recipe: { format: 'deb', rebuild: 0 }, image: 'img', arch: 'amd64', target: 'stable' },
    pool: 'default',
    state: 'queued',
    attempts: [{ n: 1, dispatchedAt: '2026-01-01T00:00:00Z' }],
    desiredCommit: desired,
  };
}

/** A child writer: one pass per record, its own cache and snapshot. Prints {attempts}. */
const CHILD = `
import { readFile } from 'node:fs/promises';
const [dir, keyFile, writer, count, desired] = process.argv.slice(2);
const { loadSigner } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'reconciler/signing/signer.ts')).href)});
const { recordPass } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'reconciler/status/writer.ts')).href)});
const { buildRecordFile } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'reconciler/status/records.ts')).href)});
const signer = await loadSigner(await readFile(keyFile, 'utf8'));
// Start together: say ready, wait for the parent's go.
process.stdout.write('ready\\n');
await new Promise((resolve) => process.stdin.once('data', resolve));
process.stdin.pause();
const cache = {};
let snapshot, attempts = 0;
for (let i = 0; i < Number(count); i++) {
  const record = {
    key: writer.padStart(8, '0') + i.toString(16).padStart(56, '0'),
    inputs: { package: 'w' + writer, version: '1.' + i, source: { url: 'u', commit: 'c' }, recipe: { format: 'deb', rebuild: 0 }, image: 'img', arch: 'amd64', target: 'stable' },
    pool: 'default', state: 'queued', attempts: [{ n: 1, dispatchedAt: '2026-01-01T00:00:00Z' }], desiredCommit: desired,
  };
  const res = await recordPass({ dir, cache, signer, previous: snapshot, maxAttempts: 200,
    build: () => ({ files: new Map([buildRecordFile(record)]), summary: 'writer ' + writer + ' build ' + i, trailers: { 'Kiln-Desired': desired, 'Kiln-Builds': 1 } }) });
  if (!res.commit) throw new Error('pass ' + i + ' wrote nothing');
  snapshot = res.snapshot;
  attempts += res.attempts;
}
process.stdout.write(JSON.stringify({ attempts }));
`;

interface Child {
  ready: Promise<void>;
  go(): void;
  done: Promise<{ attempts: number }>;
}

function startChild(script: string, args: string[]): Child {
  const p = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  let onReady: () => void = () => undefined;
  const ready = new Promise<void>((r) => (onReady = r));
  p.stdout.on('data', (d) => {
    out += d;
    if (out.startsWith('ready\n')) onReady();
  });
  p.stderr.on('data', (d) => (err += d));
  const done = new Promise<{ attempts: number }>((resolve, reject) => {
    p.on('error', reject);
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out.slice('ready\n'.length))) : reject(new Error(`writer exited ${code}:\n${err}`))));
  });
  return { ready: Promise.race([ready, done.then(() => undefined)]), go: () => p.stdin.end('go\n'), done };
}

async function assertAllRecorded(dir: string, writers: number[], desired: string): Promise<void> {
  const names = (await git(dir, 'ls-tree', '--name-only', 'kiln/status', 'builds/')).split('\n');
  const want = writers.flatMap((w) => Array.from({ length: PER_WRITER }, (_, i) => `builds/${build(w, i, desired).key}.yaml`)).sort();
  assert.deepEqual(names, want, 'every record of every writer is on the branch');
  assert.equal(await git(dir, 'rev-list', '--count', 'kiln/status'), String(writers.length * PER_WRITER), 'one commit per pass');
  assert.equal(await git(dir, 'rev-list', '--merges', 'kiln/status'), '', 'linear history');
  const sigs = await gpg.git(dir, 'log', '--format=%G?', 'kiln/status');
  assert.ok(sigs.ok, sigs.stderr);
  assert.deepEqual([...new Set(sigs.stdout.trim().split('\n'))], ['G'], 'every commit has a good signature');
  assert.equal((await git(dir, 'fsck', '--no-dangling')).trim(), '');
}

test('status race - two writer processes each adding 50 records: all 100 land, linear and signed', async (t) => {
  const { dir, commit: desired } = await makeRepo({ 'kiln.yaml': 'x: 1\n' });
  t.after(() => rm(dir, { recursive: true, force: true }));
  const keyFile = join(scratch, 'key.asc');
  const script = join(scratch, 'writer.mts');
  await writeFile(keyFile, key.privateKeyArmored, { mode: 0o600 });
  await writeFile(script, CHILD);
  const children = [1, 2].map((w) => startChild(script, [dir, keyFile, String(w), String(PER_WRITER), desired]));
  await Promise.all(children.map((c) => c.ready));
  for (const c of children) c.go();
  const results = await Promise.all(children.map((c) => c.done));
  t.diagnostic(`attempts per writer: ${results.map((r) => r.attempts).join(', ')} for ${PER_WRITER} passes each`);
  await assertAllRecorded(dir, [1, 2], desired);
});

test('status race - two in-process writers with separate caches: all 100 land, linear and signed', async (t) => {
  const { dir, commit: desired } = await makeRepo({ 'kiln.yaml': 'x: 1\n' });
  t.after(() => rm(dir, { recursive: true, force: true }));
  const signer = await loadSigner(key.privateKeyArmored);
  const writer = async (w: number) => {
    const cache = {};
    let snapshot;
    let attempts = 0;
    for (let i = 0; i < PER_WRITER; i++) {
      const record = build(w, i, desired);
      const res = await recordPass({
        dir,
        cache,
        signer,
        previous: snapshot,
        maxAttempts: 200,
        build: () => ({ files: new Map([buildRecordFile(record)]), summary: `writer ${w} build ${i}`, trailers: { 'Kiln-Desired': desired } }),
      });
      assert.ok(res.commit);
      snapshot = res.snapshot;
      attempts += res.attempts;
    }
    return attempts;
  };
  const attempts = await Promise.all([writer(3), writer(4)]);
  t.diagnostic(`attempts per writer: ${attempts.join(', ')}`);
  assert.ok(attempts.some((a) => a > PER_WRITER), 'the writers really did collide');
  await assertAllRecorded(dir, [3, 4], desired);
});
