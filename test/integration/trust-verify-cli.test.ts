// `kiln verify` through the real CLI on a real signed repo: exit codes, the
// signer in --json, and --accept-root recording the root of trust.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { git } from '../helpers/git.ts';
import { commitSigned, makeSignedRepo, makeTestKey, trustFiles } from '../helpers/signed-repo.ts';

const KILN = join(import.meta.dirname, '../../bin/kiln.js');
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function kiln(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [KILN, ...args], { env: { ...process.env, KILN_LOG_LEVEL: 'silent' } }, (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

test('trust - kiln verify exits 1 on a refused commit and 0 on a trusted one, naming the signer', async () => {
  const alice = await makeTestKey('alice');
  const { dir, commit: root } = await makeSignedRepo(trustFiles([alice]), { signer: alice.signer });
  dirs.push(dir);

  const fresh = await kiln('verify', 'main', '--repo', dir, '--json');
  assert.equal(fresh.code, 1, fresh.stderr);
  assert.match(JSON.parse(fresh.stdout).reason, /no root of trust yet/);

  const accept = await kiln('verify', '--accept-root', root, '--repo', dir);
  assert.equal(accept.code, 0, accept.stderr);
  assert.match(accept.stdout, /TRUSTED/);
  assert.equal(await git(dir, 'rev-parse', 'refs/kiln/trust-root'), root);

  const signed = await commitSigned(dir, { 'packages/a.yaml': 'a\n' }, { signer: alice.signer });
  const ok = await kiln('verify', 'HEAD', '--repo', dir, '--json');
  assert.equal(ok.code, 0, ok.stderr);
  const v = JSON.parse(ok.stdout);
  assert.equal(v.trusted, true);
  assert.equal(v.commit, signed);
  assert.equal(v.signer.fingerprint, alice.fingerprint);
  const flagged = await kiln('verify', '--rev', signed, '--repo', dir, '--json');
  assert.equal(flagged.code, 0, flagged.stderr);
  assert.equal(JSON.parse(flagged.stdout).commit, signed, '--rev names the revision, as in plan and check');
  const both = await kiln('verify', '--rev', signed, 'HEAD~1', '--repo', dir);
  assert.equal(both.code, 2, 'two different revisions are a usage error');
  assert.match(both.stderr, /name two revisions/);

  const unsigned = await commitSigned(dir, { 'packages/b.yaml': 'b\n' });
  const refused = await kiln('verify', 'HEAD', '--repo', dir);
  assert.equal(refused.code, 1);
  assert.match(refused.stdout, new RegExp(`REFUSED ${unsigned}`));
  assert.match(refused.stdout, /is not signed/);
});

test('trust - unsigned mode: kiln plan and verify refuse a history with a gitlink kiln.yaml, naming the path (no internal error)', async () => {
  const { dir } = await makeSignedRepo(trustFiles([], { requireSignedCommits: false }));
  dirs.push(dir);
  const broken = await commitSigned(dir, {}, { entries: { 'kiln.yaml': ['160000', 'd'.repeat(40)] }, message: 'gitlink' });
  await commitSigned(dir, { 'kiln.yaml': 'trust:\n  keys: []\n  requireSignedCommits: false\n' }, { message: 'fix' });
  const validate = await kiln('validate', '--repo', dir);
  assert.equal(validate.code, 0, validate.stdout + validate.stderr);
  for (const cmd of ['plan', 'verify']) {
    const r = await kiln(cmd, '--repo', dir);
    assert.equal(r.code, 1, `${cmd}: ${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stdout + r.stderr, /internal error/);
    assert.match(r.stdout, new RegExp(`${broken.slice(0, 12)}: kiln.yaml is a git submodule \\(mode 160000\\), not a file`));
  }
});
