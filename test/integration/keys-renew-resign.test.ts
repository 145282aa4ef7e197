// `kiln keys renew` end to end: the real CLI renews a passphrase-protected key,
// gpg sees the new expiry and the same fingerprint, every repository the key
// signs is re-signed (gpgv checks it), and apt in a container still installs.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { keyFileName, publishApt } from '../../reconciler/publish/index.ts';
import { aptInContainer } from '../helpers/apt-container.ts';
import { writeDeb } from '../helpers/deb.ts';
import { makeGpgHome, type GpgHome } from '../helpers/gpg.ts';
import { makeTestKey, type TestKey } from '../helpers/signed-repo.ts';
import { aptDistribution } from '../helpers/distribution.ts';

const run = promisify(execFile);
const KILN = join(import.meta.dirname, '../../bin/kiln.js');
const DAY = 86400_000;

let root: string;
let key: TestKey;
let other: TestKey;
let gpg: GpgHome;

const dist = (name: string) => aptDistribution(name, { architectures: ['amd64', 'all'] });

before(async () => {
  root = await mkdtemp(join(tmpdir(), 'kiln-renew-'));
  await chmod(root, 0o755);
  [key, other] = await Promise.all([makeTestKey('kiln-reconciler', { expiresInDays: 2, passphrase: 'sekrit' }), makeTestKey('someone-else')]);
  gpg = await makeGpgHome();
});
after(async () => {
  await gpg?.dispose();
  if (root) await rm(root, { recursive: true, force: true });
});

async function gpgExpiry(armored: string): Promise<{ fingerprint: string; expires: number }> {
  const file = join(gpg.home, `k-${Date.now()}.asc`);
  await writeFile(file, armored);
  const r = await gpg.run('gpg', ['--batch', '--with-colons', '--import-options', 'show-only', '--import', file]);
  assert.equal(r.ok, true, r.stderr);
  const pub = r.stdout.split('\n').find((l) => l.startsWith('pub:'))!.split(':');
  const fpr = r.stdout.split('\n').find((l) => l.startsWith('fpr:'))!.split(':')[9];
  return { fingerprint: fpr, expires: Number(pub[6]) * 1000 };
}

test('keys renew - new expiry, same fingerprint, every repository it signs re-signed, apt still installs', async () => {
  const repos = join(root, 'repos');
  const debs = join(root, 'debs');
  await mkdir(debs, { recursive: true });
  const hello = await writeDeb(debs, { name: 'hello', version: '1.0-1', script: 'echo renewed-ok' });
  const pkgs = [{ name: 'hello', version: '1.0-1', arch: 'all', files: [{ name: hello.name, sha256: hello.sha256, size: hello.size, path: hello.path }] }];
  await publishApt({ root: repos, distribution: dist('stable'), packages: pkgs, signer: key.signer, now: new Date(Date.now() - 60_000) });
  await publishApt({ root: repos, distribution: dist('foreign'), packages: pkgs, signer: other.signer, now: new Date(Date.now() - 60_000) });
  const oldInRelease = await readFile(join(repos, 'stable/dists/stable/InRelease'), 'utf8');
  const foreignInRelease = await readFile(join(repos, 'foreign/dists/foreign/InRelease'), 'utf8');
  const signedBefore = await key.signer.signDetached('an artifact signed before the renewal');

  // Metadata repo work tree naming the public key.
  const meta = join(root, 'meta');
  await mkdir(join(meta, 'keys'), { recursive: true });
  await writeFile(join(meta, 'kiln.yaml'), 'signing:\n  publicKey: keys/kiln.asc\n');
  await writeFile(join(meta, 'keys/kiln.asc'), key.publicKeyArmored);

  const keyFile = join(root, 'signing.key.asc');
  await writeFile(keyFile, key.privateKeyArmored, { mode: 0o600 });
  const passFile = join(root, 'pass');
  await writeFile(passFile, 'sekrit\n');
  const before = await gpgExpiry(key.publicKeyArmored);
  assert.equal(before.fingerprint, key.fingerprint);

  const { stdout } = await run(process.execPath, [KILN, 'keys', 'renew', '--signing-key', keyFile, '--days', '400', '--repos', repos, '--repo', meta, '--passphrase-file', passFile, '--json', '--quiet'], {
    env: { ...process.env, KILN_LOG_LEVEL: 'silent' },
  });
  const report = JSON.parse(stdout);
  assert.equal(report.fingerprint, key.fingerprint);
  assert.deepEqual(report.resigned, [{ distribution: 'stable', suites: ['stable'] }]);
  assert.equal(report.skipped[0].distribution, 'foreign');

  // The private key file: replaced, still 0600, same fingerprint, new expiry as gpg reads it.
  assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
  const renewedPublic = await readFile(join(meta, 'keys/kiln.asc'), 'utf8');
  const after = await gpgExpiry(renewedPublic);
  assert.equal(after.fingerprint, key.fingerprint);
  assert.ok(after.expires > Date.now() + 399 * DAY && after.expires < Date.now() + 401 * DAY, `expiry ${new Date(after.expires).toISOString()}`);
  assert.ok(before.expires < Date.now() + 3 * DAY);
  const renewedPrivate = await readFile(keyFile, 'utf8');
  assert.match(renewedPrivate, /BEGIN PGP PRIVATE KEY BLOCK/);

  // The repository signed by this key is re-signed; gpgv accepts it with the renewed key.
  const newInRelease = await readFile(join(repos, 'stable/dists/stable/InRelease'), 'utf8');
  assert.notEqual(newInRelease, oldInRelease);
  const published = await readFile(join(repos, 'stable', keyFileName('stable')), 'utf8');
  assert.equal((await gpgExpiry(published)).expires, after.expires);
  const keyring = join(gpg.home, 'renewed.gpg');
  const dearmor = await gpg.run('gpg', ['--batch', '--yes', '--dearmor', '--output', keyring, join(meta, 'keys/kiln.asc')]);
  assert.equal(dearmor.ok, true, dearmor.stderr);
  const gpgv = await gpg.run('gpgv', ['--keyring', keyring, join(repos, 'stable/dists/stable/InRelease')]);
  assert.equal(gpgv.ok, true, gpgv.stderr);
  assert.match(gpgv.stderr, /Good signature/);
  // The other key's repository is untouched.
  assert.equal(await readFile(join(repos, 'foreign/dists/foreign/InRelease'), 'utf8'), foreignInRelease);

  // What the key signed before the renewal still verifies with the renewed key.
  await gpg.importKey(renewedPublic);
  const old = await gpg.verifyDetached(signedBefore, 'an artifact signed before the renewal');
  assert.equal(old.ok, true, old.stderr);

  // apt in a network-less container updates from the re-signed repo and installs.
  const apt = await aptInContainer({ repoDir: join(repos, 'stable'), keyPath: join(repos, 'stable', keyFileName('stable')), suite: 'stable', install: ['hello'], commands: ['test "$(hello)" = renewed-ok'] });
  assert.equal(apt.exitCode, 0, apt.output);
});

test('keys renew - a wrong passphrase changes nothing', async () => {
  const keyFile = join(root, 'wrong.key.asc');
  await writeFile(keyFile, key.privateKeyArmored, { mode: 0o600 });
  const passFile = join(root, 'wrong-pass');
  await writeFile(passFile, 'not-it\n');
  const r = await run(process.execPath, [KILN, 'keys', 'renew', '--signing-key', keyFile, '--days', '30', '--passphrase-file', passFile], { env: { ...process.env, KILN_LOG_LEVEL: 'silent' } }).then(
    () => ({ code: 0, stderr: '' }),
    (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
  );
  assert.equal(r.code, 2);
  assert.match(r.stderr, /wrong passphrase/);
  assert.equal(await readFile(keyFile, 'utf8'), key.privateKeyArmored);
});
