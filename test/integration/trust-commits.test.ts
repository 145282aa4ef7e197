// Trust policy on real git repos: commits signed by openpgp.js keys, judged by
// verifyDesiredCommit and cross-checked with `git verify-commit`.
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import { after, before, describe, test } from 'node:test';
import { acceptTrustRoot, readTrustRoot, verifyDesiredCommit } from '../../reconciler/trust/index.ts';
import { git } from '../helpers/git.ts';
import { makeGpgHome, type GpgHome } from '../helpers/gpg.ts';
import { commitSigned, kilnYaml, makeSignedRepo, makeTestKey, trustFiles, type TestKey } from '../helpers/signed-repo.ts';

let alice: TestKey;
let bob: TestKey;
let mallory: TestKey;
let gpg: GpgHome;
const dirs: string[] = [];

before(async () => {
  [alice, bob, mallory] = await Promise.all([makeTestKey('alice'), makeTestKey('bob'), makeTestKey('mallory')]);
  gpg = await makeGpgHome(alice.publicKeyArmored, bob.publicKeyArmored);
});
after(async () => {
  await gpg?.dispose();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A repo whose root (trusting alice, signed by alice) is the accepted root of trust. */
async function aliceRepo(): Promise<{ dir: string; root: string }> {
  const { dir, commit } = await makeSignedRepo({ ...trustFiles([alice]), 'packages/.keep': '' }, { signer: alice.signer });
  dirs.push(dir);
  const accepted = await acceptTrustRoot({ dir, cache: {}, commit: 'main' });
  assert.equal(accepted.trusted, true, accepted.reason);
  return { dir, root: commit };
}

describe('trust - desired-state commits', () => {
  test('trust - a brand-new repo is refused until its root is accepted, then recorded in refs/kiln/trust-root', async () => {
    const { dir, commit } = await makeSignedRepo(trustFiles([alice]), { signer: alice.signer });
    dirs.push(dir);
    const before = await verifyDesiredCommit({ dir, cache: {}, commit: 'main' });
    assert.equal(before.trusted, false);
    assert.match(before.reason, /no root of trust yet.*alice.*--accept-root/);
    assert.equal(await readTrustRoot(dir), undefined);

    const accepted = await acceptTrustRoot({ dir, cache: {}, commit: 'main' });
    assert.equal(accepted.trusted, true);
    assert.equal(accepted.signer?.fingerprint, alice.fingerprint);
    assert.equal(await readTrustRoot(dir), commit);
    assert.equal(await git(dir, 'rev-parse', 'refs/kiln/trust-root'), commit);

    const after = await verifyDesiredCommit({ dir, cache: {}, commit: 'main' });
    assert.equal(after.trusted, true, after.reason);
    assert.equal(after.anchor?.kind, 'accepted-root');
  });

  test('trust - a root signed by a configured root fingerprint needs no acceptance', async () => {
    const { dir } = await makeSignedRepo(trustFiles([alice]), { signer: alice.signer });
    dirs.push(dir);
    const v = await verifyDesiredCommit({ dir, cache: {}, commit: 'main', rootFingerprints: [alice.fingerprint] });
    assert.equal(v.trusted, true, v.reason);
    assert.equal(v.anchor?.kind, 'root-fingerprint');
    const other = await verifyDesiredCommit({ dir, cache: {}, commit: 'main', rootFingerprints: [bob.fingerprint] });
    assert.equal(other.trusted, false);
  });

  test('trust - a root whose own kiln.yaml does not list its signer cannot be accepted', async () => {
    const { dir } = await makeSignedRepo(trustFiles([alice]), { signer: mallory.signer });
    dirs.push(dir);
    const v = await acceptTrustRoot({ dir, cache: {}, commit: 'main' });
    assert.equal(v.trusted, false);
    assert.equal(await readTrustRoot(dir), undefined);
  });

  test('trust - an unsigned commit is refused', async () => {
    const { dir } = await aliceRepo();
    const c = await commitSigned(dir, { 'packages/hello.yaml': 'name: hello\n' }, { message: 'unsigned' });
    const v = await verifyDesiredCommit({ dir, cache: {}, commit: c });
    assert.equal(v.trusted, false);
    assert.match(v.reason, /is not signed/);
    assert.equal((await gpg.verifyCommit(dir, c)).ok, false);
  });

  test('trust - a commit signed by a key no kiln.yaml lists is refused', async () => {
    const { dir } = await aliceRepo();
    const c = await commitSigned(dir, { 'packages/hello.yaml': 'name: hello\n' }, { signer: mallory.signer });
    const v = await verifyDesiredCommit({ dir, cache: {}, commit: 'main' });
    assert.equal(v.trusted, false);
    assert.equal(v.commit, c);
    assert.match(v.reason, new RegExp(`key ${mallory.fingerprint.slice(-16)}, which is not trusted as of its parent`));
  });

  test('trust - a commit by a trusted signer is trusted, and git verify-commit agrees', async () => {
    const { dir, root } = await aliceRepo();
    const c1 = await commitSigned(dir, { 'packages/hello.yaml': 'name: hello\n' }, { signer: alice.signer });
    const c2 = await commitSigned(dir, { 'packages/hello.yaml': 'name: hello2\n' }, { signer: alice.signer });
    const v = await verifyDesiredCommit({ dir, cache: {}, commit: 'main' });
    assert.equal(v.trusted, true, v.reason);
    assert.deepEqual(v.signer, { fingerprint: alice.fingerprint, userId: 'alice <alice@kiln.invalid>' });
    assert.deepEqual(v.chain?.map((s) => s.commit), [c1, c2]);
    // From the last reconciled commit only the new one is walked.
    const incremental = await verifyDesiredCommit({ dir, cache: {}, commit: c2, lastTrusted: c1 });
    assert.deepEqual(incremental.chain?.map((s) => s.commit), [c2]);
    for (const commit of [root, c1, c2]) {
      const native = await gpg.verifyCommit(dir, commit);
      assert.equal(native.ok, true, native.stderr);
      assert.match(native.stderr, new RegExp(alice.fingerprint.slice(-16), 'i'));
    }
  });

  test('trust - a commit adding the attacker key, signed by the attacker, is refused (and so is what follows)', async () => {
    const { dir } = await aliceRepo();
    const attack = await commitSigned(
      dir,
      { 'kiln.yaml': kilnYaml(['keys/alice.asc', 'keys/mallory.asc']), 'keys/mallory.asc': mallory.publicKeyArmored },
      { signer: mallory.signer, message: 'trust me' },
    );
    const v = await verifyDesiredCommit({ dir, cache: {}, commit: attack });
    assert.equal(v.trusted, false);
    assert.equal(v.signer?.fingerprint, mallory.fingerprint);
    assert.match(v.reason, /not trusted as of its parent/);
    const next = await commitSigned(dir, { 'packages/evil.yaml': 'name: evil\n' }, { signer: mallory.signer });
    const v2 = await verifyDesiredCommit({ dir, cache: {}, commit: next });
    assert.equal(v2.trusted, false);
    assert.match(v2.reason, new RegExp(`${next.slice(0, 12)} builds on it`));
  });

  test('trust - a key added by a trusted signer is trusted from the next commit; a removed key no longer is', async () => {
    const { dir } = await aliceRepo();
    const add = await commitSigned(dir, trustFiles([alice, bob]), { signer: alice.signer, message: 'add bob' });
    const byBob = await commitSigned(dir, { 'packages/a.yaml': 'a\n' }, { signer: bob.signer });
    let v = await verifyDesiredCommit({ dir, cache: {}, commit: byBob });
    assert.equal(v.trusted, true, v.reason);
    assert.equal(v.signer?.fingerprint, bob.fingerprint);
    assert.deepEqual(v.chain?.map((s) => s.commit), [add, byBob]);

    await commitSigned(dir, { 'kiln.yaml': kilnYaml(['keys/bob.asc']) }, { signer: bob.signer, remove: ['keys/alice.asc'], message: 'drop alice' });
    const byAlice = await commitSigned(dir, { 'packages/b.yaml': 'b\n' }, { signer: alice.signer });
    v = await verifyDesiredCommit({ dir, cache: {}, commit: byAlice, lastTrusted: byBob });
    assert.equal(v.trusted, false);
    assert.match(v.reason, new RegExp(`key ${alice.fingerprint.slice(-16)}, which is not trusted as of its parent`));
  });

  test('trust - a tampered commit (signature copied onto other content) is refused, as git verify-commit does', async () => {
    const { dir } = await aliceRepo();
    const good = await commitSigned(dir, { 'packages/a.yaml': 'a\n' }, { signer: alice.signer });
    // Rewrite the commit's tree but keep its gpgsig header.
    const raw = await git(dir, 'cat-file', 'commit', good);
    const otherTree = await git(dir, 'rev-parse', 'HEAD~1^{tree}');
    const forged = raw.replace(/^tree [0-9a-f]{40}/, `tree ${otherTree}`) + '\n';
    const { execFileSync } = await import('node:child_process');
    const oid = execFileSync('git', ['hash-object', '-t', 'commit', '-w', '--stdin'], { cwd: dir, input: forged }).toString().trim();
    const v = await verifyDesiredCommit({ dir, cache: {}, commit: oid });
    assert.equal(v.trusted, false);
    assert.match(v.reason, /does not verify/);
    assert.equal((await gpg.verifyCommit(dir, oid)).ok, false);
  });

  test('trust - a last trusted commit that is not on the first-parent history (force push) refuses', async () => {
    const { dir, root } = await aliceRepo();
    const c1 = await commitSigned(dir, { 'packages/a.yaml': 'a\n' }, { signer: alice.signer });
    const rewritten = await commitSigned(dir, { 'packages/a.yaml': 'b\n' }, { signer: alice.signer, parents: [root] });
    const v = await verifyDesiredCommit({ dir, cache: {}, commit: rewritten, lastTrusted: c1 });
    assert.equal(v.trusted, false);
    assert.match(v.reason, /not on the first-parent history/);
  });

  test('trust - a signed merge is judged by its own signature at its first parent', async () => {
    const { dir, root } = await aliceRepo();
    const side = await commitSigned(dir, { 'packages/side.yaml': 's\n' }, { message: 'unsigned side work' });
    const merge = await commitSigned(dir, {}, { signer: alice.signer, parents: [root, side], message: 'merge' });
    const v = await verifyDesiredCommit({ dir, cache: {}, commit: merge });
    assert.equal(v.trusted, true, v.reason);
    assert.deepEqual(v.chain?.map((s) => s.commit), [merge]);
    const unsignedMerge = await commitSigned(dir, {}, { parents: [merge, side], message: 'merge again' });
    assert.equal((await verifyDesiredCommit({ dir, cache: {}, commit: unsignedMerge })).trusted, false);
  });

  test('trust - requireSignedCommits: false at the parent lets unsigned commits through', async () => {
    const { dir } = await makeSignedRepo(trustFiles([], { requireSignedCommits: false }));
    dirs.push(dir);
    const c = await commitSigned(dir, { 'packages/a.yaml': 'a\n' });
    const v = await verifyDesiredCommit({ dir, cache: {}, commit: c });
    assert.equal(v.trusted, true, v.reason);
    assert.equal(v.anchor?.kind, 'unsigned-root');
  });
});

test('trust - a bare clone of the metadata repo is judged the same, trust root included', async () => {
  const { dir } = await aliceRepo();
  const c = await commitSigned(dir, { 'packages/a.yaml': 'a\n' }, { signer: alice.signer });
  const { mkdtemp } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const bare = join(await mkdtemp(join(tmpdir(), 'kiln-bare-')), 'meta.git');
  dirs.push(bare);
  await git(dir, 'clone', '-q', '--bare', dir, bare);
  assert.equal((await verifyDesiredCommit({ dir: bare, cache: {}, commit: 'main' })).trusted, false, 'the accepted root is local to each repo');
  assert.equal((await acceptTrustRoot({ dir: bare, cache: {}, commit: await git(bare, 'rev-list', '--max-parents=0', 'main') })).trusted, true);
  const v = await verifyDesiredCommit({ dir: bare, cache: {}, commit: 'main' });
  assert.equal(v.trusted, true, v.reason);
  assert.equal(v.commit, c);
});

test('trust - an unsigned commit that switches requireSignedCommits off is itself refused', async () => {
  const { dir } = await aliceRepo();
  const off = await commitSigned(dir, { 'kiln.yaml': kilnYaml(['keys/alice.asc'], { requireSignedCommits: false }) }, { message: 'no more signing' });
  const v = await verifyDesiredCommit({ dir, cache: {}, commit: off });
  assert.equal(v.trusted, false);
  assert.match(v.reason, /is not signed/);
  // Switched off by a trusted signer, it applies from the next commit on.
  await git(dir, 'reset', '-q', '--hard', 'HEAD~1');
  const offSigned = await commitSigned(dir, { 'kiln.yaml': kilnYaml(['keys/alice.asc'], { requireSignedCommits: false }) }, { signer: alice.signer });
  const after = await commitSigned(dir, { 'packages/x.yaml': 'x\n' });
  const v2 = await verifyDesiredCommit({ dir, cache: {}, commit: after });
  assert.equal(v2.trusted, true, v2.reason);
  assert.deepEqual(v2.chain?.map((s) => s.commit), [offSigned, after]);
});

test('trust - a chain longer than maxChain is refused, not walked', async () => {
  const { dir } = await aliceRepo();
  for (let i = 0; i < 3; i++) await commitSigned(dir, { 'packages/a.yaml': `${i}\n` }, { signer: alice.signer });
  const v = await verifyDesiredCommit({ dir, cache: {}, commit: 'main', maxChain: 2 });
  assert.equal(v.trusted, false);
  assert.match(v.reason, /more than 2 commits/);
  assert.equal((await verifyDesiredCommit({ dir, cache: {}, commit: 'main', maxChain: 10 })).trusted, true);
});

describe('trust - tree entries of the wrong type and unreadable history end in a refusal, never an error', () => {
  // Any commit id will do as a gitlink target: it is never in this repo.
  const GITLINK: [string, string] = ['160000', 'a'.repeat(40)];

  test('trust - a commit by an untrusted key replacing kiln.yaml with a gitlink is refused', async () => {
    const { dir } = await aliceRepo();
    const evil = await commitSigned(dir, {}, { signer: mallory.signer, entries: { 'kiln.yaml': GITLINK }, message: 'gitlink' });
    assert.equal(await git(dir, 'cat-file', '-t', `${evil}:kiln.yaml`).catch(() => 'commit'), 'commit');
    const v = await verifyDesiredCommit({ dir, cache: {}, commit: evil });
    assert.equal(v.trusted, false);
    assert.equal(v.commit, evil);
    assert.match(v.reason, /not trusted as of its parent/);
  });

  for (const [what, entries] of [
    ['a gitlink', { 'keys/alice.asc': GITLINK }],
    ['a symbolic link', { 'keys/alice.asc': ['120000', ''] }],
  ] as const) {
    test(`trust - a trusted key file that is ${what} is reported, never read as a key`, async () => {
      const { dir } = await aliceRepo();
      const e = { ...entries } as Record<string, [string, string]>;
      if (e['keys/alice.asc'][1] === '') e['keys/alice.asc'] = ['120000', await hashBlob(dir, '/dev/zero')];
      const broken = await commitSigned(dir, {}, { signer: alice.signer, entries: e, message: 'break the key' });
      const next = await commitSigned(dir, { 'packages/a.yaml': 'a\n' }, { signer: alice.signer, entries: e });
      const v = await verifyDesiredCommit({ dir, cache: {}, commit: next });
      assert.equal(v.trusted, false);
      assert.match(v.reason, new RegExp(`keys/alice.asc is (a git submodule|a symbolic link).*not a file`));
      assert.match(v.reason, new RegExp(broken.slice(0, 12)));
    });
  }

  test('trust - kiln.yaml that is a directory is reported at the commit that has it', async () => {
    const { dir } = await aliceRepo();
    await rm(`${dir}/kiln.yaml`);
    const broken = await commitSigned(dir, { 'kiln.yaml/x': 'trust: {}\n' }, { signer: alice.signer });
    const next = await commitSigned(dir, { 'packages/a.yaml': 'a\n' }, { signer: alice.signer });
    const v = await verifyDesiredCommit({ dir, cache: {}, commit: next });
    assert.equal(v.trusted, false);
    assert.match(v.reason, new RegExp(`trust problems at ${broken.slice(0, 12)}: kiln.yaml is a directory, not a file`));
  });

  test('trust - unsigned mode: a gitlink kiln.yaml in an earlier commit refuses what builds on it, naming the path', async () => {
    const { dir } = await makeSignedRepo(trustFiles([], { requireSignedCommits: false }));
    dirs.push(dir);
    const broken = await commitSigned(dir, {}, { entries: { 'kiln.yaml': GITLINK }, message: 'gitlink' });
    const fixed = await commitSigned(dir, { 'kiln.yaml': kilnYaml([], { requireSignedCommits: false }) }, { message: 'fix' });
    const v = await verifyDesiredCommit({ dir, cache: {}, commit: fixed });
    assert.equal(v.trusted, false);
    assert.match(v.reason, new RegExp(`kiln.yaml is a git submodule \\(mode 160000\\), not a file`));
    assert.match(v.reason, new RegExp(broken.slice(0, 12)));
  });

  test('trust - a history that cannot be read (missing parent object) is refused with the reason', async () => {
    const { dir } = await aliceRepo();
    const orphan = await commitSigned(dir, { 'packages/a.yaml': 'a\n' }, { signer: alice.signer, parents: ['b'.repeat(40)] });
    const v = await verifyDesiredCommit({ dir, cache: {}, commit: orphan });
    assert.equal(v.trusted, false);
    assert.match(v.reason, new RegExp(`cannot judge ${orphan.slice(0, 12)}: .*${'b'.repeat(12)}`));
  });
});

/** Store `text` as a blob (e.g. a symlink's target) and return its id. */
async function hashBlob(dir: string, text: string): Promise<string> {
  const { execFileSync } = await import('node:child_process');
  return execFileSync('git', ['hash-object', '-w', '--stdin'], { cwd: dir, input: text }).toString().trim();
}
