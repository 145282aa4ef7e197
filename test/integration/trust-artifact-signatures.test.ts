// Artifact signatures made by openpgp.js, checked by the real gpg.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { signArtifacts } from '../../reconciler/trust/artifact-signatures.ts';
import { DigestMismatchError } from '../../schema/errors.ts';
import { STATUS_LAYOUT } from '../../schema/status.ts';
import { makeGpgHome, type GpgHome } from '../helpers/gpg.ts';
import { makeTestKey, type TestKey } from '../helpers/signed-repo.ts';

let dir: string;
let key: TestKey;
let gpg: GpgHome;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-artifacts-'));
  key = await makeTestKey('kiln-reconciler');
  gpg = await makeGpgHome(key.publicKeyArmored);
});
after(async () => {
  await gpg?.dispose();
  await rm(dir, { recursive: true, force: true });
});

test('trust - artifact signatures verify with gpg against the reconciler public key', async () => {
  const a = Buffer.from('binary \x00\xff payload\r\n'.repeat(1000), 'latin1');
  const b = Buffer.from('second artifact\n');
  await writeFile(join(dir, 'a.deb'), a);
  await writeFile(join(dir, 'b.deb'), b);
  const sigs = await signArtifacts(key.signer, [
    { sha256: sha(a), path: join(dir, 'a.deb') },
    { sha256: sha(b), path: join(dir, 'b.deb') },
    { sha256: sha(a), path: join(dir, 'a.deb') },
  ]);
  assert.deepEqual([...sigs.keys()].sort(), [STATUS_LAYOUT.signature(sha(a)), STATUS_LAYOUT.signature(sha(b))].sort());
  const ok = await gpg.verifyDetached(sigs.get(STATUS_LAYOUT.signature(sha(a)))!, a);
  assert.equal(ok.ok, true, ok.stderr);
  assert.match(ok.stderr, /Good signature from "kiln-reconciler/);
  assert.match(ok.stderr, new RegExp(key.fingerprint.slice(-16), 'i'));
  // The signature is of these bytes only.
  const wrong = await gpg.verifyDetached(sigs.get(STATUS_LAYOUT.signature(sha(a)))!, b);
  assert.equal(wrong.ok, false);
  assert.match(wrong.stderr, /BAD signature/);
});

test('trust - an artifact whose bytes do not match its digest is never signed', async () => {
  await writeFile(join(dir, 'c.deb'), 'tampered');
  const signed: unknown[] = [];
  const spy = { signDetached: async (d: string | Uint8Array) => (signed.push(d), key.signer.signDetached(d)) };
  await assert.rejects(signArtifacts(spy, [{ sha256: sha(Buffer.from('original')), path: join(dir, 'c.deb') }]), DigestMismatchError);
  assert.equal(signed.length, 0);
});
