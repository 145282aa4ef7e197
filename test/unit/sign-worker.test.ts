// Artifact signatures made in a worker thread: they verify against the key, and a
// worker that dies mid-batch rejects what it held (a transient error: the pass is
// retried) while the next signature starts a new thread. A key that cannot sign is
// the key's error, never worked around by signing in the main thread.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as openpgp from 'openpgp';
import { kindOf, SigningKeyError } from '../../schema/errors.ts';
import { generateKey } from '../../reconciler/signing/signer.ts';
import { SignWorker } from '../../reconciler/signing/sign-worker.ts';

async function verifies(armoredSignature: string, data: Uint8Array, publicKeyArmored: string): Promise<boolean> {
  const result = await openpgp.verify({
    message: await openpgp.createMessage({ binary: data }),
    signature: await openpgp.readSignature({ armoredSignature }),
    verificationKeys: await openpgp.readKey({ armoredKey: publicKeyArmored }),
  });
  return result.signatures[0].verified.then(() => true, () => false);
}

test('sign worker - signatures verify; a stopped worker rejects what it held, transiently, and the next sign works', async () => {
  const key = await generateKey({ name: 'Kiln Test', email: 'test@kiln.invalid' });
  const worker = new SignWorker(key.privateKeyArmored);
  const data = Buffer.from('an artifact\n');
  assert.equal(await verifies(await worker.sign(data), data, key.publicKeyArmored), true);
  assert.equal(await verifies(await worker.sign(data), Buffer.from('other bytes'), key.publicKeyArmored), false, 'bound to the bytes');

  const held = Array.from({ length: 20 }, (_, i) => worker.sign(Buffer.from(`artifact ${i}`)));
  await worker.stop();
  const settled = await Promise.allSettled(held);
  for (const s of settled) if (s.status === 'rejected') assert.equal(kindOf(s.reason), 'transient', String(s.reason));
  assert.ok(settled.some((s) => s.status === 'rejected'), 'the stop came before every signature was made');

  assert.equal(await verifies(await worker.sign(data), data, key.publicKeyArmored), true, 'a new thread signs');
  await worker.stop();
});

test('sign worker - starts in a process that loads TypeScript as bin/kiln.js does (tsx registered in-process, run with -e): the thread is a plain module', async () => {
  const { execFile } = await import('node:child_process');
  const { promisify } = await import('node:util');
  const { fileURLToPath } = await import('node:url');
  const root = fileURLToPath(new URL('../..', import.meta.url));
  const code = `
    const { register } = await import('tsx/esm/api');
    register();
    const { generateKey } = await import('./reconciler/signing/signer.ts');
    const { SignWorker } = await import('./reconciler/signing/sign-worker.ts');
    const key = await generateKey({ name: 'Kiln Test', email: 'test@kiln.invalid' });
    const w = new SignWorker(key.privateKeyArmored);
    process.stdout.write((await w.sign(Buffer.from('x'))).split('\\n')[0]);
    await w.stop();
  `;
  const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', code], { cwd: root });
  assert.equal(stdout, '-----BEGIN PGP SIGNATURE-----');
});

test('sign worker - a pool of two threads: binary and armored signatures of many headers in flight verify (ed25519 and rsa keys)', async () => {
  const { SignPool } = await import('../../reconciler/signing/sign-worker.ts');
  const rsa = await openpgp.generateKey({ type: 'rsa', rsaBits: 2048, userIDs: [{ name: 'Kiln RSA', email: 'rsa@kiln.invalid' }], format: 'armored', config: { v6Keys: false } });
  for (const key of [await generateKey({ name: 'Kiln Test', email: 'test@kiln.invalid' }), { privateKeyArmored: rsa.privateKey, publicKeyArmored: rsa.publicKey }]) {
    const pool = new SignPool(key.privateKeyArmored, 2);
    const data = Array.from({ length: 40 }, (_, i) => Buffer.from(`header ${i}`));
    const binary = await Promise.all(data.map((d) => pool.signBinary(d)));
    for (const [i, b] of binary.entries()) {
      const armored = (await openpgp.readSignature({ binarySignature: b })).armor();
      assert.equal(await verifies(armored, data[i], key.publicKeyArmored), true, `signature ${i}`);
    }
    assert.equal(await verifies(await pool.sign(data[0]), data[0], key.publicKeyArmored), true, 'armored');
    await pool.stop();
  }
});

test('sign worker - a Signer signs binary data in its worker pool (no fall back to this thread); dispose stops the threads and a later signature starts them again', async () => {
  const { loadSigner } = await import('../../reconciler/signing/signer.ts');
  const key = await generateKey({ name: 'Kiln Pool', email: 'pool@kiln.invalid' });
  const warnings: string[] = [];
  const log = { warn: (_o: unknown, msg: string) => warnings.push(msg) } as unknown as import('pino').Logger;
  const signer = await loadSigner(key.privateKeyArmored, undefined, { log });
  const data = Array.from({ length: 8 }, (_, i) => Buffer.from(`header ${i}`));
  await Promise.all(data.map((d) => signer.signBinary(d)));
  assert.equal(await verifies(await signer.signDetached(data[0]), data[0], key.publicKeyArmored), true);
  // openpgp.js packet internals the worker uses changed (an upgrade): the pool fails and this thread answers.
  assert.deepEqual([signer.fallbacks(), warnings], [0, []], 'the pool answered');
  await signer.dispose();
  assert.equal(await verifies(await signer.signDetached(data[1]), data[1], key.publicKeyArmored), true);
  assert.equal(signer.fallbacks(), 0, 'a new pool thread answered after dispose');
  await signer.dispose();
});

test('sign worker - a key whose secret does not match it is a SigningKeyError (KILN_SIGNING_KEY): the Signer rethrows it, no fall back to this thread', async () => {
  const { loadSigner } = await import('../../reconciler/signing/signer.ts');
  const [a, b] = await Promise.all([generateKey({ name: 'Kiln A', email: 'a@kiln.invalid' }), generateKey({ name: 'Kiln B', email: 'b@kiln.invalid' })]);
  const mixed = await openpgp.readPrivateKey({ armoredKey: a.privateKeyArmored });
  const other = await openpgp.readPrivateKey({ armoredKey: b.privateKeyArmored });
  // A's public key with B's secret: whatever it signed would not verify against the key it names.
  (mixed.keyPacket as unknown as { privateParams: { seed: Uint8Array } }).privateParams.seed = (other.keyPacket as unknown as { privateParams: { seed: Uint8Array } }).privateParams.seed;
  const warnings: string[] = [];
  const log = { warn: (_o: unknown, msg: string) => warnings.push(msg) } as unknown as import('pino').Logger;
  const signer = await loadSigner(mixed.armor(), undefined, { log });
  const isKeyError = (e: unknown) => e instanceof SigningKeyError && e.code === 'KILN_SIGNING_KEY' && kindOf(e) === 'usage';
  await assert.rejects(signer.signBinary(Buffer.from('header')), isKeyError);
  await assert.rejects(signer.signDetached(Buffer.from('artifact')), isKeyError);
  assert.deepEqual([signer.fallbacks(), warnings], [0, []], 'nothing signed in this thread');
  await signer.dispose();
});

test('sign worker - a view of a larger Buffer (an rpm header inside the file) crosses to the thread alone, not the buffer under it', async (t) => {
  const { Worker } = await import('node:worker_threads');
  const sent: number[] = [];
  const post = Worker.prototype.postMessage;
  Worker.prototype.postMessage = function (this: InstanceType<typeof Worker>, message: { data?: Uint8Array }, transfer?: readonly import('node:worker_threads').Transferable[]) {
    if (message?.data) sent.push(message.data.buffer.byteLength);
    return post.call(this, message, transfer);
  };
  t.after(() => {
    Worker.prototype.postMessage = post;
  });
  const key = await generateKey({ name: 'Kiln View', email: 'view@kiln.invalid' });
  const worker = new SignWorker(key.privateKeyArmored);
  const file = Buffer.alloc(1 << 20, 7);
  const header = file.subarray(4096, 4196);
  const signature = await worker.signBinary(header);
  const armored = (await openpgp.readSignature({ binarySignature: signature })).armor();
  assert.equal(await verifies(armored, header, key.publicKeyArmored), true);
  assert.deepEqual(sent, [100], 'only the 100 bytes of the header were cloned');
  await worker.stop();
});

test('sign worker - an rpm whose signature header claims more than the file holds is that rpm\'s format error, not the pool\'s failure (no fall back)', async () => {
  const { loadSigner } = await import('../../reconciler/signing/signer.ts');
  const { parseRpm } = await import('../../rpm/signature-header.js');
  const { createHash } = await import('node:crypto');
  const { mkdtemp, readdir, rm } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  // A lead, then a signature header that says 1000 entries and has none.
  const bad = Buffer.concat([Buffer.alloc(96), Buffer.from([0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0]), Buffer.from([0, 0, 0x03, 0xe8, 0, 0, 0, 0])]);
  assert.throws(() => parseRpm(bad), (e: { code?: string; message: string }) => e.code === 'KILN_RPM_FORMAT' && /1000 entries/.test(e.message));
  const key = await generateKey({ name: 'Kiln Pool', email: 'pool@kiln.invalid' });
  const warnings: string[] = [];
  const log = { warn: (_o: unknown, msg: string) => warnings.push(msg) } as unknown as import('pino').Logger;
  const signer = await loadSigner(key.privateKeyArmored, undefined, { log });
  const cacheDir = await mkdtemp(join(tmpdir(), 'kiln-sign-bad-'));
  try {
    const rpm = { name: 'bad-1-1.noarch.rpm', sha256: createHash('sha256').update(bad).digest('hex'), size: bad.length, bytes: bad };
    await assert.rejects(signer.signRpms({ cacheDir, keyAlgorithm: 'rsa' }, [rpm]), (e: Error) => e.name === 'RpmFormatError' && /bad-1-1\.noarch\.rpm/.test(e.message) && /1000 entries/.test(e.message));
    assert.deepEqual([signer.fallbacks(), warnings], [0, []], 'the pool answered; nothing signed in this thread');
    assert.deepEqual(await readdir(cacheDir), [], 'nothing written');
  } finally {
    await signer.dispose();
    await rm(cacheDir, { recursive: true, force: true });
  }
});
