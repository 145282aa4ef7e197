// Signing-key checks and renewal, in memory (openpgp.js only, no files).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as openpgp from 'openpgp';
import { loadReconcilerSigner } from '../../reconciler/keys/load-signer.ts';
import { renewKey } from '../../reconciler/keys/renew-key.ts';
import { SigningError } from '../../schema/errors.ts';

const DAY = 86400_000;

async function keyCreated(daysAgo: number, lifetimeDays: number, passphrase?: string) {
  return openpgp.generateKey({
    type: 'ecc',
    curve: 'ed25519Legacy',
    userIDs: [{ name: 'Old Key', email: 'old@kiln.invalid' }],
    date: new Date(Date.now() - daysAgo * DAY),
    keyExpirationTime: lifetimeDays * 86400,
    passphrase,
    format: 'armored',
    config: { v6Keys: false },
  });
}

describe('trust - signing keys', () => {
  test('trust - loadReconcilerSigner refuses an expired key and says how to fix it', async () => {
    const { privateKey } = await keyCreated(10, 1);
    await assert.rejects(loadReconcilerSigner({ keyArmored: privateKey }), (e: unknown) => e instanceof SigningError && /expired on .*kiln keys renew/.test(e.message));
  });

  test('trust - loadReconcilerSigner refuses a revoked key', async () => {
    const { privateKey } = await keyCreated(0, 30);
    const key = await openpgp.readPrivateKey({ armoredKey: privateKey });
    const { privateKey: revoked } = await openpgp.revokeKey({ key, format: 'armored' });
    await assert.rejects(loadReconcilerSigner({ keyArmored: revoked }), /is revoked/);
  });

  test('trust - loadReconcilerSigner needs a key and a passphrase for a protected key', async () => {
    await assert.rejects(loadReconcilerSigner({}), /no signing key/);
    await assert.rejects(loadReconcilerSigner({ keyArmored: 'not a key' }), /not an armored OpenPGP private key/);
    const { privateKey } = await keyCreated(0, 30, 'pw');
    await assert.rejects(loadReconcilerSigner({ keyArmored: privateKey }), /passphrase-protected/);
    const signer = await loadReconcilerSigner({ keyArmored: privateKey, passphrase: 'pw' });
    assert.match(await signer.signDetached('x'), /BEGIN PGP SIGNATURE/);
  });

  test('trust - renewKey revives an expired key with the same fingerprint and the new expiry', async () => {
    const { privateKey } = await keyCreated(10, 1, 'pw');
    const before = await openpgp.readPrivateKey({ armoredKey: privateKey });
    const now = new Date();
    const renewed = await renewKey(privateKey, 'pw', { days: 90, now });
    assert.equal(renewed.fingerprint, before.getFingerprint().toUpperCase());
    const after = await openpgp.readKey({ armoredKey: renewed.publicKeyArmored });
    assert.equal(after.getFingerprint().toUpperCase(), renewed.fingerprint);
    assert.equal(after.getCreationTime().getTime(), before.getCreationTime().getTime());
    const exp = (await after.getExpirationTime()) as Date;
    assert.equal(exp.getTime(), renewed.expires.getTime());
    assert.ok(Math.abs(exp.getTime() - (now.getTime() + 90 * DAY)) < 2000);
    // Still protected by the same passphrase, and usable.
    await assert.rejects(loadReconcilerSigner({ keyArmored: renewed.privateKeyArmored }), /passphrase-protected/);
    const signer = await loadReconcilerSigner({ keyArmored: renewed.privateKeyArmored, passphrase: 'pw' });
    assert.equal(signer.fingerprint, renewed.fingerprint);
  });

  test('trust - renewKey refuses a revoked key, a wrong passphrase and a silly number of days', async () => {
    const { privateKey } = await keyCreated(0, 30);
    const key = await openpgp.readPrivateKey({ armoredKey: privateKey });
    const { privateKey: revoked } = await openpgp.revokeKey({ key, format: 'armored' });
    await assert.rejects(renewKey(revoked, undefined, { days: 30, now: new Date() }), /revoked; it cannot be renewed/);
    const prot = await keyCreated(0, 30, 'pw');
    await assert.rejects(renewKey(prot.privateKey, 'nope', { days: 30, now: new Date() }), /wrong passphrase/);
    await assert.rejects(renewKey(privateKey, undefined, { days: 0, now: new Date() }), /--days/);
  });
});
