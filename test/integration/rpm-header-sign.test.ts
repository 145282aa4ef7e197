// rpm header signatures written in-process (reconciler/publish/dnf/rpm-header-sign.ts),
// judged by rpm's own verifier: `rpmkeys --checksig` with the key imported into a
// throwaway rpm database accepts them (EdDSA under DSAHEADER, RSA under RSAHEADER),
// refuses them without the key, and a re-signature replaces the earlier one. The
// file keeps its size and everything after the signature header byte for byte.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import * as openpgp from 'openpgp';
import { sha256File } from '../../reconciler/publish/apt/hashes.ts';
import { publishDnf } from '../../reconciler/publish/dnf/publish.ts';
import { signRpmBytes } from '../../reconciler/publish/dnf/rpm-header-sign.ts';
import { readRpm } from '../../reconciler/publish/rpm/read-rpm.ts';
import { generateKey, loadSigner, type Signer } from '../../reconciler/signing/signer.ts';
import { SignPool } from '../../reconciler/signing/sign-worker.ts';
import { signRpmCopies, storeOffThread } from '../../reconciler/signing/rpm-copies.js';
import { runDnfInstallSmokeGate } from '../../reconciler/gate/dnf-install-smoke.ts';
import { cachedArtifactPath } from '../../reconciler/pipeline/artifact-cache.ts';
import { signRpmHeaders } from '../../reconciler/pipeline/signed-rpms.ts';
import type { BuildResult } from '../../schema/messages.ts';
import { docker, dockerUnavailable } from '../helpers/docker.ts';
import { quietLog } from '../helpers/kiln-service.ts';
import { writeRpm } from '../helpers/rpm.ts';

const run = promisify(execFile);
const RPM_IMAGE = 'kiln/bookworm-rpm';

async function rpmAvailable(): Promise<string | undefined> {
  return run('rpmkeys', ['--version']).then(() => undefined, () => 'rpmkeys not installed (scripts/setup-host installs rpm)');
}

describe('rpm header signing', { skip: await rpmAvailable() }, () => {
  let dir = '';
  let unsigned = '';
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-rpm-headersign-'));
    unsigned = (await writeRpm(dir, { name: 'kiln-signed', version: '1.0-1' })).path;
  });
  after(() => rm(dir, { recursive: true, force: true }));

  /** `rpmkeys --checksig` against a fresh rpm database holding `keys`. */
  async function checksig(file: string, keys: Signer[]): Promise<{ ok: boolean; out: string }> {
    const db = await mkdtemp(join(dir, 'db-'));
    for (const [i, k] of keys.entries()) {
      await writeFile(join(db, `k${i}.asc`), k.publicKeyArmored);
      await run('rpmkeys', ['--dbpath', db, '--import', join(db, `k${i}.asc`)]);
    }
    return run('rpmkeys', ['--dbpath', db, '--checksig', '-v', file]).then(
      (r) => ({ ok: true, out: r.stdout }),
      (e: { stdout?: string }) => ({ ok: false, out: e.stdout ?? '' }),
    );
  }

  async function sign(from: string, signer: Signer, tag: 'rsa' | 'dsa', name: string): Promise<string> {
    const bytes = await readFile(from);
    const signed = await signRpmBytes(bytes, signer, tag);
    assert.ok(signed, 'the package has reserved space');
    assert.equal(signed.rpm.length, bytes.length, 'same size: rewritten in place');
    const path = join(dir, name);
    await writeFile(path, signed.rpm);
    return path;
  }

  test('rpm header signing - an EdDSA signature under DSAHEADER that rpmkeys accepts with the key and refuses without', async () => {
    const signer = await loadSigner((await generateKey({ name: 'Kiln Header', email: 'header@kiln.invalid' })).privateKeyArmored);
    const path = await sign(unsigned, signer, 'dsa', 'eddsa.rpm');
    const good = await checksig(path, [signer]);
    assert.ok(good.ok, good.out);
    assert.match(good.out, /Header V4 EdDSA\/SHA\d+ Signature, key ID [0-9a-f]{8}: OK/);
    assert.match(good.out, /Payload SHA256 digest: OK/);
    assert.equal((await readRpm(path)).signedBy, signer.fingerprint.slice(-16));
    const nokey = await checksig(path, []);
    assert.equal(nokey.ok, false);
    assert.match(nokey.out, /NOKEY/);
    // Only the signature header changed: the main header and payload are the built bytes.
    const [a, b] = [await readFile(unsigned), await readFile(path)];
    const tail = (buf: Buffer) => buf.subarray(buf.indexOf(Buffer.from([0x8e, 0xad, 0xe8, 0x01]), 200));
    assert.ok(tail(a).equals(tail(b)));

    // Signed again with another key: the earlier signature is replaced, not kept beside it.
    const renewed = await loadSigner((await generateKey({ name: 'Kiln Renewed', email: 'renewed@kiln.invalid' })).privateKeyArmored);
    const again = await sign(path, renewed, 'dsa', 'resigned.rpm');
    assert.ok((await checksig(again, [renewed])).ok);
    assert.equal((await checksig(again, [signer])).ok, false, 'the old key no longer signs it');
    assert.equal((await readRpm(again)).signedBy, renewed.fingerprint.slice(-16));
  });

  test('rpm header signing - a publish that must sign an already-known rpm again checks the bytes it reads; a changed artifact is refused, nothing published', async () => {
    const first = await loadSigner((await generateKey({ name: 'Kiln First', email: 'first@kiln.invalid' })).privateKeyArmored);
    const second = await loadSigner((await generateKey({ name: 'Kiln Second', email: 'second@kiln.invalid' })).privateKeyArmored);
    const art = join(dir, 'artifact.rpm');
    await writeFile(art, await readFile(unsigned));
    const { sha256, size } = await sha256File(art);
    const input = { name: 'kiln-signed-1.0-1.noarch.rpm', sha256, size, path: art, package: 'kiln-signed', version: '1.0-1' };
    const root = join(dir, 'repos');
    await publishDnf({ root, distribution: { name: 't' }, packages: [input], signer: first, now: new Date() });
    const repomd = await readFile(join(root, 't/repodata/repomd.xml'));
    // The artifact changes under the same recorded digest; the new key means it is read and signed again.
    const bytes = await readFile(art);
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(art, bytes);
    await assert.rejects(
      publishDnf({ root, distribution: { name: 't' }, packages: [input], signer: second, now: new Date() }),
      (e: Error & { code?: string }) => e.code === 'KILN_DIGEST_MISMATCH' && e.message.startsWith('kiln-signed-1.0-1.noarch.rpm: expected sha256'),
    );
    assert.ok((await readFile(join(root, 't/repodata/repomd.xml'))).equals(repomd), 'nothing published');
    assert.equal((await readRpm(join(root, 't/packages/kiln-signed-1.0-1.noarch.rpm'))).signedBy, first.fingerprint.slice(-16));
  });

  test('rpm header signing - an rpm built without reserved signature space is signed by rpmsign (gpg override), and rpmkeys accepts it with the key', async () => {
    const signer = await loadSigner((await generateKey({ name: 'Kiln Fallback', email: 'fallback@kiln.invalid' })).privateKeyArmored);
    const built = await writeRpm(dir, { name: 'kiln-nospace', version: '1.0-1', defines: { __gpg_reserved_space: '0' } });
    assert.equal(await signRpmBytes(await readFile(built.path), signer, 'dsa'), undefined, 'no room for the in-process signer');
    const root = join(dir, 'fallback-repos');
    const report = await publishDnf({ root, distribution: { name: 'f' }, packages: [{ ...built, package: 'kiln-nospace', version: '1.0-1' }], signer, now: new Date() });
    const published = join(root, 'f', report.rpms[0].file);
    const good = await checksig(published, [signer]);
    assert.ok(good.ok, good.out);
    assert.match(good.out, /Header V4 EdDSA\/SHA\d+ Signature, key ID [0-9a-f]{8}: OK/);
    assert.match((await checksig(published, [])).out, /NOKEY/);
    const header = await readRpm(published);
    assert.equal(header.signedBy, signer.fingerprint.slice(-16));
    assert.equal(report.rpms[0].sha256, (await sha256File(published)).sha256, 'the signed file is what is recorded');
    // The recorded signature is the header's own packet, armored (gpg writes the old packet framing, openpgp.js the new one).
    const recorded = await openpgp.readSignature({ armoredSignature: report.rpms[0].signature! });
    const inHeader = await openpgp.readSignature({ binarySignature: Buffer.from(header.signatureHex!, 'hex') });
    assert.deepEqual(recorded.write(), inHeader.write());
  });

  test('rpm header signing - a signature header entry of an unknown data type is a typed, terminal error (KILN_RPM_FORMAT), not a plain Error', async () => {
    const signer = await loadSigner((await generateKey({ name: 'Kiln Malformed', email: 'malformed@kiln.invalid' })).privateKeyArmored);
    const bytes = await readFile(unsigned);
    bytes.writeInt32BE(99, 96 + 16 + 16 + 4); // the type of the signature header's second entry
    await assert.rejects(signRpmBytes(bytes, signer, 'dsa'), (e: Error & { code?: string; kind?: string }) => e.code === 'KILN_RPM_FORMAT' && e.kind === 'terminal' && /unknown data type 99/.test(e.message));
  });

  test('rpm header signing - a sign thread answers a detached signature between queued rpm batches, not after all of them', async () => {
    // One thread: ten batches of 32 rpms queued, then (once the first is answered) one detached signature.
    const key = await generateKey({ name: 'Kiln One Thread', email: 'one@kiln.invalid' });
    const pool = new SignPool(key.privateKeyArmored, 1);
    const cacheDir = await mkdtemp(join(dir, 'turns-'));
    try {
      const bytes = await readFile(unsigned);
      const rpm = { name: 'kiln-signed-1.0-1.noarch.rpm', ...(await sha256File(unsigned)), bytes };
      const settled: string[] = [];
      const batches = Array.from({ length: 10 }, (_, i) => pool.signRpms({ cacheDir, keyAlgorithm: 'dsa' }, Array(32).fill(rpm)).then(() => settled.push(`batch ${i}`)));
      await batches[0];
      const detached = pool.signBinary(Buffer.from('a release file')).then(() => settled.push('detached'));
      await Promise.all([...batches, detached]);
      assert.ok(settled.indexOf('detached') < settled.indexOf('batch 9'), `settled in this order: ${settled.join(', ')}`);
    } finally {
      await pool.stop();
    }
  });

  test("rpm header signing - a sign thread's failed write reaches the caller with its errno (no fall back to this thread), and leaves no file", async () => {
    const signer = await loadSigner((await generateKey({ name: 'Kiln Write Fails', email: 'fails@kiln.invalid' })).privateKeyArmored);
    const parent = await mkdtemp(join(dir, 'notadir-'));
    const cacheDir = join(parent, 'cache');
    await writeFile(cacheDir, 'a file where the cache directory should be');
    try {
      const rpm = { name: 'kiln-signed-1.0-1.noarch.rpm', ...(await sha256File(unsigned)), bytes: await readFile(unsigned) };
      await assert.rejects(signer.signRpms({ cacheDir, keyAlgorithm: 'dsa' }, [rpm]), (e: NodeJS.ErrnoException) => e.code === 'ENOTDIR' && e.syscall === 'open');
      assert.equal(signer.fallbacks(), 0, 'the thread answered');
      assert.deepEqual(await readdir(parent), ['cache']);
    } finally {
      await signer.dispose();
    }
  });

  test("rpm header signing - the main thread's store (the pool's fall back) writes the recorded bytes, and a failed write reports its own errno", async () => {
    const signer = await loadSigner((await generateKey({ name: 'Kiln Main Thread', email: 'main@kiln.invalid' })).privateKeyArmored);
    try {
      const rpm = { name: 'kiln-signed-1.0-1.noarch.rpm', ...(await sha256File(unsigned)), bytes: await readFile(unsigned) };
      const sign = (header: Uint8Array) => signer.signBinary(header);
      const cacheDir = await mkdtemp(join(dir, 'main-store-'));
      const [copy] = await signRpmCopies([rpm], { cacheDir, keyAlgorithm: 'dsa' }, sign, storeOffThread);
      assert.ok(copy);
      assert.deepEqual(await sha256File(cachedArtifactPath(cacheDir, copy.sha256)), { sha256: copy.sha256, size: copy.size });
      const parent = await mkdtemp(join(dir, 'main-notadir-'));
      await writeFile(join(parent, 'cache'), 'a file where the cache directory should be');
      await assert.rejects(signRpmCopies([rpm], { cacheDir: join(parent, 'cache'), keyAlgorithm: 'dsa' }, sign, storeOffThread), (e: NodeJS.ErrnoException) => e.code === 'ENOTDIR' && e.syscall === 'open');
      assert.deepEqual(await readdir(parent), ['cache']);
    } finally {
      await signer.dispose();
    }
  });

  test('rpm header signing - an RSA key signs under RSAHEADER', async () => {
    const { privateKey } = await openpgp.generateKey({ type: 'rsa', rsaBits: 2048, userIDs: [{ name: 'Kiln RSA', email: 'rsa@kiln.invalid' }], format: 'armored', config: { v6Keys: false } });
    const signer = await loadSigner(privateKey);
    const path = await sign(unsigned, signer, 'rsa', 'rsa.rpm');
    const r = await checksig(path, [signer]);
    assert.ok(r.ok, r.out);
    assert.match(r.out, /Header V4 RSA\/SHA\d+ Signature, key ID [0-9a-f]{8}: OK/);
  });

  test('rpm header signing - a foreign v3 signature (header+payload) is removed: rpmkeys accepts the copy with our key alone and dnf installs it', async (t) => {
    const attacker = await loadSigner((await generateKey({ name: 'Kiln Attacker', email: 'attacker@kiln.invalid' })).privateKeyArmored);
    const signer = await loadSigner((await generateKey({ name: 'Kiln Ours', email: 'ours@kiln.invalid' })).privateKeyArmored);
    const built = await writeRpm(dir, { name: 'kiln-presigned', version: '1.0-1' });
    // rpmsign --rpmv3 adds the header+payload signature (PGP/GPG tags) beside the header one.
    await attacker.withGnupgHome((home) =>
      run('rpmsign', ['--addsign', '--rpmv3', '--define', '__gpg /usr/bin/gpg', '--define', `_gpg_name ${attacker.fingerprint}`, built.path], { env: { ...process.env, GNUPGHOME: home, LC_ALL: 'C' } }),
    );
    assert.match((await checksig(built.path, [attacker])).out, /V4 EdDSA\/SHA\d+ Signature, key ID [0-9a-f]{8}: OK[\s\S]*V4 EdDSA\/SHA\d+ Signature, key ID [0-9a-f]{8}: OK/, 'presigned twice by the attacker');
    const presigned = { ...built, ...(await sha256File(built.path)) };
    const result = { key: 'b'.repeat(64), outcome: 'succeeded', artifacts: [{ name: presigned.name, sha256: presigned.sha256, size: presigned.size }], inputs: { package: 'kiln-presigned', version: '1.0-1', arch: 'amd64', recipe: { format: 'rpm' } } } as unknown as BuildResult;
    const cache = join(dir, 'presigned-cache');
    const [copy] = await signRpmHeaders(result, () => readFile(presigned.path), signer, cache);
    const collected = await checksig(cachedArtifactPath(cache, copy.sha256), [signer]);
    assert.ok(collected.ok, collected.out);
    assert.doesNotMatch(collected.out, /NOKEY|BAD/);
    assert.doesNotMatch((await checksig(cachedArtifactPath(cache, copy.sha256), [attacker])).out, /Signature, key ID [0-9a-f]{8}: OK/, 'no attacker signature left');

    // Published from the built (presigned) rpm, signed at publish: the same, and dnf with gpgcheck=1 installs it.
    const root = join(dir, 'presigned-repos');
    const report = await publishDnf({ root, distribution: { name: 'testing' }, packages: [{ ...presigned, package: 'kiln-presigned', version: '1.0-1' }], signer, now: new Date() });
    const published = await checksig(join(root, 'testing', report.rpms[0].file), [signer]);
    assert.ok(published.ok, published.out);
    assert.doesNotMatch(published.out, /NOKEY|BAD/);
    const noDocker = await dockerUnavailable(RPM_IMAGE);
    if (noDocker) return t.skip(`dnf install not tried: ${noDocker}`);
    const gate = await runDnfInstallSmokeGate({ docker, image: RPM_IMAGE, root, from: 'testing', distribution: 'stable', package: 'kiln-presigned', version: '1.0-1', timeoutSeconds: 120, log: quietLog });
    assert.equal(gate.verdict, 'passed', `${gate.reason}\n${gate.logTail ?? ''}`);
  });
});
