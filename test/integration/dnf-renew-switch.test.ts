// kiln-test: long (scripts/test starts it first, so the run does not end waiting on it)
// A key renewal (`kiln keys renew`) and a key change at publish never show a
// reader rpms that differ from what the live repodata says: a reader polling
// repomd.xml -> primary.xml.gz -> every rpm it names (sha256) while the
// repository is re-signed sees no mismatch; afterwards every rpm is signed by
// the new key (rpmkeys) and the files of the previous repodata are still there
// for its readers. Real rpms (the host's rpmbuild), createrepo_c, rpmkeys.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import pMap from 'p-map';
import { publishDnf, type RpmInput } from '../../reconciler/publish/dnf/publish.ts';
import { resignDnf } from '../../reconciler/publish/dnf/resign.ts';
import { generateKey, loadSigner, type Signer } from '../../reconciler/signing/signer.ts';
import { liveRpms, writeRpm, type WrittenRpm } from '../helpers/rpm.ts';
import { seededRandom } from '../helpers/seeded.ts';

const run = promisify(execFile);

const named = (repo: string): Array<[string, string]> => liveRpms(repo).map((r) => [r.file, r.sha256]);

/** Reads the repository like a client, again and again until stopped: counts what does not match. */
function reader(repo: string): { stop: () => { checks: number; bad: string[] } } {
  let checks = 0;
  const bad: string[] = [];
  const once = () => {
    for (const [file, sha] of named(repo)) {
      checks++;
      const path = join(repo, file);
      if (!existsSync(path) || createHash('sha256').update(readFileSync(path)).digest('hex') !== sha) bad.push(file);
    }
  };
  const timer = setInterval(once, 1);
  return {
    stop() {
      clearInterval(timer);
      once();
      return { checks, bad };
    },
  };
}

async function signedByOnly(repo: string, signer: Signer, home: string): Promise<void> {
  const db = join(home, `rpmdb-${signer.fingerprint.slice(-8)}`);
  const key = join(home, 'key.asc');
  await writeFile(key, signer.publicKeyArmored);
  await run('rpmkeys', ['--dbpath', db, '--import', key]);
  for (const [file] of named(repo)) {
    const out = await run('rpmkeys', ['--dbpath', db, '--checksig', '-v', join(repo, file)], { env: { ...process.env, LC_ALL: 'C' } });
    assert.match(out.stdout, /Header V4 .* Signature, key ID [0-9a-f]+: OK/, `${file}: ${out.stdout}`);
  }
}

/** Files the live repodata names that are missing or differ. */
const mismatched = (repo: string) => liveRpms(repo).filter((r) => !existsSync(join(repo, r.file)) || createHash('sha256').update(readFileSync(join(repo, r.file))).digest('hex') !== r.sha256).map((r) => r.file);

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = `
import { readFileSync } from 'node:fs';
import { resignDnf } from ${JSON.stringify(join(ROOT, 'reconciler/publish/dnf/resign.ts'))};
import { loadSigner } from ${JSON.stringify(join(ROOT, 'reconciler/signing/signer.ts'))};
const [root, keyFile] = process.argv.slice(2);
const signer = await loadSigner(readFileSync(keyFile, 'utf8'));
process.stdout.write('ready\\n');
await resignDnf(root, 't', signer, new Date());
`;

/** Re-signed rpms on disk: files under packages/<hex16>/ directories. */
function resignedFiles(repo: string): Set<string> {
  const out = new Set<string>();
  const packages = join(repo, 'packages');
  for (const d of readdirSync(packages, { withFileTypes: true })) {
    if (d.isDirectory()) for (const f of readdirSync(join(packages, d.name))) out.add(`${d.name}/${f}`);
  }
  return out;
}

/**
 * Run a renewal in a process of its own; SIGKILL it once `after` new re-signed rpms are on disk
 * (a fault point chosen by progress, not by time), or let it finish when it makes fewer.
 */
function renewKilled(script: string, args: string[], repo: string, after: number): Promise<void> {
  const before = resignedFiles(repo);
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const watch = setInterval(() => {
      const made = [...resignedFiles(repo)].filter((f) => !before.has(f)).length;
      if (made >= after) p.kill('SIGKILL');
    }, 2);
    p.stdout.resume();
    p.stderr.on('data', (d) => (err += d));
    p.on('error', reject);
    p.on('exit', (code, signal) => {
      clearInterval(watch);
      if (code === 0 || signal === 'SIGKILL') resolve();
      else reject(new Error(`renew exited ${code}:\n${err}`));
    });
  });
}

describe('dnf re-signing', () => {
  let dir = '';
  let rpms: WrittenRpm[] = [];
  const input = (r: WrittenRpm): RpmInput => ({ name: r.name, sha256: r.sha256, size: r.size, path: r.path, package: r.name.replace(/-1\.0-1\.noarch\.rpm$/, ''), version: '1.0-1' });
  const key = async (name: string) => loadSigner((await generateKey({ name, email: `${name.toLowerCase()}@kiln.invalid` })).privateKeyArmored);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-dnf-resign-'));
    rpms = await pMap(Array.from({ length: 24 }, (_, i) => i), (i) => writeRpm(dir, { name: `kiln-w${i}`, version: '1.0-1' }), { concurrency: 2 });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('dnf renew - a concurrent reader never sees rpms that differ from the live repodata; old files stay for it', async () => {
    const root = join(dir, 'renew');
    const repo = join(root, 't');
    const first = await key('One');
    await publishDnf({ root, distribution: { name: 't' }, packages: rpms.map(input), signer: first, now: new Date() });
    const before = named(repo);
    const signers = [await key('Two'), await key('Three')];
    for (const signer of signers) {
      const r = reader(repo);
      await resignDnf(root, 't', signer, new Date());
      const { checks, bad } = r.stop();
      assert.ok(checks >= rpms.length * 2, `the reader read (${checks} checks)`);
      assert.deepEqual(bad, [], `${bad.length} of ${checks} (file, checksum) pairs did not match`);
      await signedByOnly(repo, signer, await mkdtemp(join(dir, 'gnupg-')));
    }
    // The first repodata's files are kept (retention): its readers still get what it named.
    for (const [file, sha] of before) assert.equal(createHash('sha256').update(readFileSync(join(repo, file))).digest('hex'), sha, file);
    // A later publish with the renewed key serves the renewed files as they are (nothing signed again).
    const last = named(repo);
    await publishDnf({ root, distribution: { name: 't' }, packages: rpms.map(input), signer: signers[1], now: new Date() });
    assert.deepEqual(named(repo).sort(), last.sort());
  });

  test('dnf renew - killed at a random moment: the live repodata always matches its files; a re-run converges', async (t) => {
    const root = join(dir, 'crash');
    const repo = join(root, 't');
    await publishDnf({ root, distribution: { name: 't' }, packages: rpms.map(input), signer: await key('Before'), now: new Date() });
    const armored = (await generateKey({ name: 'After', email: 'after@kiln.invalid' })).privateKeyArmored;
    const next = await loadSigner(armored);
    const keyFile = join(dir, 'after.asc');
    const script = join(dir, 'renew.mts');
    await writeFile(keyFile, armored, { mode: 0o600 });
    await writeFile(script, CHILD);
    const { random } = seededRandom(t);
    for (let k = 0; k < 3; k++) {
      await renewKilled(script, [root, keyFile], repo, Math.floor(random() * (rpms.length + 2)));
      assert.deepEqual(mismatched(repo), [], `after kill ${k}`);
    }
    await resignDnf(root, 't', next, new Date());
    assert.deepEqual(mismatched(repo), []);
    await signedByOnly(repo, next, await mkdtemp(join(dir, 'gnupg-')));
  });

  test('dnf publish - a key change is switched atomically too', async () => {
    const root = join(dir, 'change');
    const repo = join(root, 't');
    await publishDnf({ root, distribution: { name: 't' }, packages: rpms.map(input), signer: await key('Old'), now: new Date() });
    const next = await key('New');
    const r = reader(repo);
    await publishDnf({ root, distribution: { name: 't' }, packages: rpms.map(input), signer: next, now: new Date() });
    const { checks, bad } = r.stop();
    assert.deepEqual(bad, [], `${bad.length} of ${checks} (file, checksum) pairs did not match`);
    await signedByOnly(repo, next, await mkdtemp(join(dir, 'gnupg-')));
  });
});
