// kiln.yaml signing.publicKey names the reconciler's key: a reconciler holding
// another key refuses to run a pass and writes nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { reconcilePass } from '../../reconciler/pass.ts';
import { DEFAULT_POLICY, type PassDeps } from '../../reconciler/pass/deps.ts';
import { generateKey, loadSigner, type Signer } from '../../reconciler/signing/signer.ts';
import { git, makeRepo } from '../helpers/git.ts';

function deps(dir: string, signer: Signer): PassDeps {
  return { repoDir: dir, rev: 'HEAD', cache: {}, signer, log: pino({ level: 'silent' }), now: () => new Date(), random: () => 0.5, policy: DEFAULT_POLICY, artifactsDir: dir + '/.git/kiln-artifacts', gateImage: 'x' };
}

test('pass release key - only the key declared in kiln.yaml may sign; another refuses and writes nothing', async () => {
  const release = await generateKey({ name: 'release', email: 'release@kiln.invalid' });
  const other = await generateKey({ name: 'other', email: 'other@kiln.invalid' });
  const { dir } = await makeRepo({
    'kiln.yaml': 'trust:\n  requireSignedCommits: false\nsigning:\n  publicKey: keys/release.asc\n',
    'keys/release.asc': release.publicKeyArmored,
  });

  await assert.rejects(reconcilePass(deps(dir, await loadSigner(other.privateKeyArmored)), {}), (e: Error & { code?: string; kind?: string }) => {
    assert.equal(e.code, 'KILN_SIGNING');
    assert.equal(e.kind, 'terminal');
    assert.match(e.message, new RegExp(`signs with ${other.fingerprint}.*keys/release.asc \\(${release.fingerprint}\\)`));
    return true;
  });
  await assert.rejects(git(dir, 'rev-parse', '--verify', 'kiln/status'), 'no status branch was written');

  const ok = await reconcilePass(deps(dir, await loadSigner(release.privateKeyArmored)), {});
  assert.equal(ok.trust?.trusted, true);
});
