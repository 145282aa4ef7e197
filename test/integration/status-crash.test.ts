// Crash safety of the status writer: a writer process is SIGKILLed at random
// moments, repeatedly. Every pass it reported as recorded is on the branch,
// git finds no corrupt object, every commit verifies, and the next writer
// carries on (breaking a lock the killed one may have left).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { seededRandom } from '../helpers/seeded.ts';
import { generateKey, type GeneratedKey } from '../../reconciler/signing/signer.ts';
import { git, makeRepo } from '../helpers/git.ts';
import { makeGpgHome, type GpgHome } from '../helpers/gpg.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KILLS = 5;
let key: GeneratedKey;
let gpg: GpgHome;
let scratch: string;

before(async () => {
  key = await generateKey({ name: 'Kiln Crash', email: 'crash@kiln.invalid' });
  gpg = await makeGpgHome(key.publicKeyArmored);
  scratch = await mkdtemp(join(tmpdir(), 'kiln-crash-'));
});
after(async () => {
  await gpg.dispose();
  await rm(scratch, { recursive: true, force: true });
});

/** Records one build per pass, named by how many the branch already holds; prints each recorded commit. */
const CHILD = `
import { readFile } from 'node:fs/promises';
const [dir, keyFile, desired, passes] = process.argv.slice(2);
const { loadSigner } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'reconciler/signing/signer.ts')).href)});
const { recordPass } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'reconciler/status/writer.ts')).href)});
const { buildRecordFile } = await import(${JSON.stringify(pathToFileURL(join(ROOT, 'reconciler/status/records.ts')).href)});
const signer = await loadSigner(await readFile(keyFile, 'utf8'));
const cache = {};
let snapshot;
for (let i = 0; i < Number(passes); i++) {
  const res = await recordPass({ dir, cache, signer, previous: snapshot, build: (observed) => {
    const n = observed.builds.size;
    const record = {
      key: n.toString(16).padStart(64, '0'),
      inputs: { package: 'p', version: '1.' + n, source: { url: 'u', commit: 'c' }, recipe: { format: 'deb', rebuild: 0 }, image: 'i', arch: 'amd64', target: 's' },
      pool: 'default', state: 'queued', attempts: [], desiredCommit: desired,
    };
    return { files: new Map([buildRecordFile(record)]), summary: 'record build ' + n, trailers: { 'Kiln-Desired': desired, 'Kiln-Builds': 1 } };
  } });
  snapshot = res.snapshot;
  process.stdout.write('recorded ' + res.commit + '\\n');
}
`;

/** Run a writer; kill it (SIGKILL) a random few ms after its `killAfter`-th recorded pass, or let it finish. */
function runWriter(script: string, args: string[], killAfter?: { passes: number; delayMs: number }): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let armed = false;
    p.stdout.on('data', (d) => {
      out += d;
      const n = out.split('\n').filter((l) => l.startsWith('recorded ')).length;
      if (killAfter !== undefined && n >= killAfter.passes && !armed) {
        armed = true;
        setTimeout(() => p.kill('SIGKILL'), killAfter.delayMs);
      }
    });
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      const recorded = out.split('\n').filter((l) => l.startsWith('recorded ')).map((l) => l.slice('recorded '.length));
      if (code === 0 || signal === 'SIGKILL') resolve(recorded);
      else reject(new Error(`writer exited ${code}:\n${err}`));
    });
  });
}

test('status crash - a writer killed at random moments loses nothing it reported and corrupts nothing', async (t) => {
  const { dir, commit: desired } = await makeRepo({ 'kiln.yaml': 'x: 1\n' });
  t.after(() => rm(dir, { recursive: true, force: true }));
  const keyFile = join(scratch, 'key.asc');
  const script = join(scratch, 'writer.mts');
  await writeFile(keyFile, key.privateKeyArmored, { mode: 0o600 });
  await writeFile(script, CHILD);
  const lock = join(dir, '.git', 'refs', 'heads', 'kiln', 'status.lock');
  const acknowledged: string[] = [];
  let locksLeft = 0;
  const { random } = seededRandom(t);

  for (let k = 0; k < KILLS; k++) {
    acknowledged.push(...(await runWriter(script, [dir, keyFile, desired, '1000'], { passes: 2 + Math.floor(random() * 4), delayMs: Math.floor(random() * 25) })));
    // A lock left behind by the killed writer: pretend its 30 s have passed.
    if (await stat(lock).then(() => true, () => false)) {
      locksLeft++;
      const old = new Date(Date.now() - 60_000);
      await utimes(lock, old, old);
    }
    assert.equal((await git(dir, 'fsck', '--no-dangling')).trim(), '', 'no corrupt or missing object');
    const v = await gpg.verifyCommit(dir, 'kiln/status');
    assert.ok(v.ok, v.stderr);
  }
  acknowledged.push(...(await runWriter(script, [dir, keyFile, desired, '3'])));
  t.diagnostic(`${acknowledged.length} passes acknowledged over ${KILLS} kills; locks left behind: ${locksLeft}`);

  for (const c of acknowledged) await git(dir, 'merge-base', '--is-ancestor', c, 'kiln/status');
  const commits = Number(await git(dir, 'rev-list', '--count', 'kiln/status'));
  const records = (await git(dir, 'ls-tree', '--name-only', 'kiln/status', 'builds/')).split('\n');
  assert.ok(commits >= acknowledged.length);
  assert.equal(records.length, commits, 'one record per commit: nothing lost, nothing duplicated');
  assert.deepEqual(records, Array.from({ length: commits }, (_, n) => `builds/${n.toString(16).padStart(64, '0')}.yaml`));
  assert.equal(await git(dir, 'rev-list', '--merges', 'kiln/status'), '');
  const sigs = await gpg.git(dir, 'log', '--format=%G?', 'kiln/status');
  assert.deepEqual([...new Set(sigs.stdout.trim().split('\n'))], ['G']);
  assert.equal(await git(dir, 'status', '--porcelain'), '');
});
