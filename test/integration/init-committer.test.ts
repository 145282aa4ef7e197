// kiln init --committer-key: the repo trusts exactly that key, its first commit
// is signed (git verify-commit agrees) and accepted as the trust root, and an
// unsigned commit on top is refused.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { readDesired } from '../../reconciler/desired/read-desired.ts';
import { verifyDesiredCommit } from '../../reconciler/trust/index.ts';
import { git } from '../helpers/git.ts';
import { makeGpgHome } from '../helpers/gpg.ts';
import { commitSigned } from '../helpers/signed-repo.ts';

const run = promisify(execFile);
const KILN = new URL('../../bin/kiln.js', import.meta.url).pathname;
const kiln = (...args: string[]) => run(process.execPath, [KILN, ...args], { env: { ...process.env, KILN_LOG_LEVEL: 'warn' } });

test('init - --committer-key signs the first commit, trusts only that key and accepts the root; --release-key declares the release key', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'kiln-init-committer-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await kiln('keys', 'generate', '--name', 'Alice', '--email', 'alice@kiln.invalid', '--out', join(root, 'keys'));
  await kiln('keys', 'generate', '--name', 'Kiln Release', '--email', 'release@kiln.invalid', '--out', join(root, 'keys'));
  const dir = join(root, 'meta');
  const { stdout } = await kiln('init', '--example', '--committer-key', join(root, 'keys', 'alice.key.asc'), '--release-key', join(root, 'keys', 'kiln-release.pub.asc'), dir, '--json');
  const data = JSON.parse(stdout) as { commit: string; committer: { keyFile: string; fingerprint: string } };
  assert.equal(data.committer.keyFile, 'keys/alice.asc');

  const { state } = await readDesired({ dir, rev: 'HEAD', cache: {} });
  assert.deepEqual(state.config.trust, { keys: ['keys/alice.asc'], requireSignedCommits: true });
  assert.deepEqual(state.config.signing, { publicKey: 'keys/kiln-release.asc' });
  assert.equal(await git(dir, 'show', 'HEAD:keys/kiln-release.asc'), (await readFile(join(root, 'keys', 'kiln-release.pub.asc'), 'utf8')).trim());

  const gpg = await makeGpgHome(await git(dir, 'show', 'HEAD:keys/alice.asc'));
  t.after(() => gpg.dispose());
  const verify = await gpg.verifyCommit(dir, 'HEAD');
  assert.equal(verify.code, 0, verify.stderr);

  const verdict = await verifyDesiredCommit({ dir, cache: {}, commit: 'HEAD' });
  assert.equal(verdict.trusted, true, verdict.reason);
  assert.equal(verdict.commit, data.commit);

  const unsigned = await commitSigned(dir, { 'README.md': 'unsigned change\n' }, { signer: null });
  const refused = await verifyDesiredCommit({ dir, cache: {}, commit: unsigned });
  assert.equal(refused.trusted, false);
});
