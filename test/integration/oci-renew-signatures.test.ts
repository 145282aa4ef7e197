// `kiln keys renew` over a registry distribution (real openpgp keys and the real
// lookaside directory; no registry is needed: renewal touches only what Kiln
// serves). The renewed key has the same fingerprint and still verifies every
// simple-signing signature it made, even after the old expiry passed, so the
// sigstore stays byte for byte as it was: the rows of releases/<dist>.yaml
// (signature file, sha256, key) name what is served after the renewal, with no
// status commit needed. tags.json.asc is re-signed.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import * as openpgp from 'openpgp';
import pino from 'pino';
import { signedReferences, signTag } from '../../oci/lookaside.ts';
import { writePublishedTags } from '../../oci/published-tags.ts';
import { renewAndResign } from '../../reconciler/keys/renew-and-resign.ts';
import { SIGSTORE_DIR } from '../../reconciler/release-targets/registry/registry-target.ts';
import { makeTestKey } from '../helpers/signed-repo.ts';

const DAY = 86400_000;
const D1 = 'sha256:' + '1a'.repeat(32);
const D2 = 'sha256:' + '2b'.repeat(32);
let root: string | undefined;
after(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

test('keys renew - registry signatures stay byte for byte, so the recorded rows (file, sha256, key) still name what is served; tags.json re-signed', async () => {
  root = await mkdtemp(join(tmpdir(), 'kiln-oci-renew-'));
  const repos = join(root, 'repos');
  const key = await makeTestKey('kiln-reconciler', { expiresInDays: 2 });
  const signedAt = new Date(Date.now() - 60_000);
  const tags = [
    { repository: 'kiln/app', tag: '1.0-1', digest: D1 },
    { repository: 'kiln/app', tag: 'latest', digest: D1 },
    { repository: 'kiln/base', tag: '1.0-1', digest: D2 },
  ];
  // What a release wrote and recorded: a signature per tag (its row), and tags.json.
  const signing = { root: join(repos, 'production', SIGSTORE_DIR), sign: (p: Uint8Array) => key.signer.signMessage(p), publicKeyArmored: key.publicKeyArmored, now: signedAt };
  const rows = [];
  for (const t of tags) rows.push({ ...t, ...(await signTag({ registry: 'registry.example:5001', ...t }, signing)), signingKey: key.fingerprint });
  await writePublishedTags(join(repos, 'production'), { registry: 'registry.example:5001', tags }, (text) => key.signer.signDetached(text));
  const ascBefore = await readFile(join(repos, 'production', 'tags.json.asc'), 'utf8');

  const keyFile = join(root, 'signing.key.asc');
  await writeFile(keyFile, key.privateKeyArmored, { mode: 0o600 });
  // Renewed after the old expiry: the hardest case for keeping the old signatures.
  const now = new Date(Date.now() + 5 * DAY);
  const report = await renewAndResign({ keyFile, days: 365, reposDir: repos, now, log: pino({ level: 'silent' }) });
  assert.equal(report.fingerprint, key.fingerprint);
  assert.deepEqual(report.resigned.map((r) => r.distribution), ['production']);

  const renewedPublic = (await openpgp.readPrivateKey({ armoredKey: await readFile(keyFile, 'utf8') })).toPublic().armor();
  for (const row of rows) {
    const served = await readFile(join(repos, 'production', SIGSTORE_DIR, row.file));
    assert.equal(createHash('sha256').update(served).digest('hex'), row.sha256, `${row.repository}:${row.tag}: the recorded sha256 is the served signature's`);
    assert.ok((await signedReferences(join(repos, 'production', SIGSTORE_DIR), row.repository, row.digest, renewedPublic)).includes(`registry.example:5001/${row.repository}:${row.tag}`), 'the renewed key verifies it');
    assert.equal(row.signingKey, report.fingerprint);
  }
  assert.notEqual(await readFile(join(repos, 'production', 'tags.json.asc'), 'utf8'), ascBefore, 'tags.json is signed again by the renewed key');
});
