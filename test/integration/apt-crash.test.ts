// Crash safety: a publish killed (SIGKILL) at arbitrary moments leaves a
// repository that is still whole — InRelease verifies, its by-hash index
// matches, every .deb it names is in the pool with the right digest — and the
// next publish completes (taking over the dead writer's lock).
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { publishApt, type PublishPackage } from '../../reconciler/publish/index.ts';
import { generateKey, loadSigner } from '../../reconciler/signing/signer.ts';
import { writeDeb } from '../helpers/deb.ts';
import { aptDistribution } from '../helpers/distribution.ts';

const run = promisify(execFile);
const ROOT_DIR = new URL('../..', import.meta.url).pathname;

const dist = aptDistribution('crashy', { suite: 'stable', codename: 'stable' });

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-crash-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Everything a client could rely on is consistent. */
async function assertWhole(repo: string, keyring: string): Promise<number> {
  const { stderr } = await run('gpgv', ['--keyring', keyring, join(repo, 'dists/stable/InRelease')]);
  assert.match(stderr, /Good signature/);
  const inRelease = await readFile(join(repo, 'dists/stable/InRelease'), 'utf8');
  const m = /^ ([0-9a-f]{64}) +(\d+) main\/binary-amd64\/Packages$/m.exec(inRelease.slice(inRelease.indexOf('SHA256:')));
  assert.ok(m, inRelease);
  const index = await readFile(join(repo, 'dists/stable/main/binary-amd64/by-hash/SHA256', m[1]));
  assert.equal(createHash('sha256').update(index).digest('hex'), m[1]);
  const stanzas = index.toString().split('\n\n').filter((s) => s.trim());
  for (const s of stanzas) {
    const file = /^Filename: (.*)$/m.exec(s)![1];
    const sha = /^SHA256: (.*)$/m.exec(s)![1];
    const bytes = await readFile(join(repo, file));
    assert.equal(createHash('sha256').update(bytes).digest('hex'), sha, file);
  }
  return stanzas.length;
}

test('apt crash - SIGKILL during publishes never leaves a broken repository; the next publish completes', async (t) => {
  const debsDir = join(dir, 'debs');
  await mkdir(debsDir);
  const packages: PublishPackage[] = [];
  for (let i = 0; i < 400; i++) {
    const d = await writeDeb(debsDir, { name: `crash${i}`, version: `1.${i}-1`, arch: 'amd64' });
    packages.push({ name: d.package, version: d.version, arch: 'amd64', files: [{ name: d.name, sha256: d.sha256, size: d.size, path: d.path }] });
  }
  const key = await generateKey({ name: 'Kiln Crash', email: 'crash@kiln.invalid' });
  const signer = await loadSigner(key.privateKeyArmored);
  const root = join(dir, 'repos');
  const repo = join(root, dist.name);
  await publishApt({ root, distribution: dist, packages: packages.slice(0, 50), signer, now: new Date() });
  const keyring = join(dir, 'ring.gpg');
  await run('sh', ['-c', 'gpg --dearmor < "$1" > "$2"', 'sh', join(repo, 'crashy-archive-keyring.asc'), keyring]);
  assert.equal(await assertWhole(repo, keyring), 50);

  // A child process publishes ever larger sets in a loop until it is killed.
  await writeFile(join(dir, 'input.json'), JSON.stringify({ root, dist, packages, key: key.privateKeyArmored }));
  const script = join(dir, 'publisher.mts');
  await writeFile(
    script,
    `import { readFileSync } from 'node:fs';
import { publishApt } from '${ROOT_DIR}reconciler/publish/index.ts';
import { loadSigner } from '${ROOT_DIR}reconciler/signing/signer.ts';
const input = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const signer = await loadSigner(input.key);
process.stdout.write('ready\\n');
for (let n = 60; ; n = n >= input.packages.length ? 60 : n + 37) {
  await publishApt({ root: input.root, distribution: input.dist, packages: input.packages.slice(0, n), signer, now: new Date(), retainSeconds: 0 });
}
`,
  );
  const delays = [30, 90, 170, 260, 410, 650];
  for (const delay of delays) {
    const child = spawn('node', ['--import', 'tsx', script, join(dir, 'input.json')], { cwd: ROOT_DIR, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise((resolve) => child.once('exit', resolve));
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    await new Promise((r) => setTimeout(r, delay));
    child.kill('SIGKILL');
    await exited;
    const count = await assertWhole(repo, keyring);
    assert.ok(count >= 50, `after a kill at ${delay} ms: ${count} packages`);
  }

  const leftovers = (await run('find', [repo, '-name', '.*.tmp-*'])).stdout.split('\n').filter(Boolean).length;
  t.diagnostic(`temp files left by the killed writers: ${leftovers}`);
  // Where the kills landed is chance: plant what a writer killed at each write leaves (a temp
  // file wherever Kiln writes one, and its lock), so the clean-up is checked every run.
  const deadPid = await new Promise<number>((resolve) => {
    const p = spawn('true');
    p.once('exit', () => resolve(p.pid!));
  });
  await writeFile(join(repo, '.kiln/lock'), JSON.stringify({ pid: deadPid, host: 'test' }));
  const planted = ['.kiln/.state.json.tmp-1-dead00-1', '.crashy-archive-keyring.asc.tmp-1-dead00-2', 'dists/stable/.InRelease.tmp-1-dead00-3', 'pool/main/c/crash0/.crash0_1.0-1_amd64.deb.tmp-1-dead00-4'];
  for (const p of planted) await writeFile(join(repo, p), 'half-written');
  const final = await publishApt({ root, distribution: dist, packages, signer, now: new Date(), retainSeconds: 0 });
  assert.equal(final.packages, 400);
  assert.equal(await assertWhole(repo, keyring), 400);
  // The dead writers' half-written temp files are gone too.
  const { stdout } = await run('find', [repo, '-name', '.*.tmp-*']);
  assert.equal(stdout, '');
});
