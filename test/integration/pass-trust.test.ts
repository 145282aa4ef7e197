// A reconcile pass under the trust policy, with a real nats-server and real
// signed git commits: trusted commits are acted on; an unsigned commit or one
// signed by an untrusted key builds and publishes nothing, and the refusal is
// recorded once on kiln/status.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { reconcilePass, type PassMemo } from '../../reconciler/pass.ts';
import { DEFAULT_POLICY, type PassDeps } from '../../reconciler/pass/deps.ts';
import { openNatsSession, type NatsSession } from '../../reconciler/pipeline/nats-session.ts';
import { readObserved } from '../../reconciler/status/reader.ts';
import { acceptTrustRoot } from '../../reconciler/trust/index.ts';
import { STREAMS } from '../../schema/nats.ts';
import { git, makeRepo } from '../helpers/git.ts';
import { startNats, type NatsServer } from '../helpers/nats.ts';
import { commitSigned, makeSignedRepo, makeTestKey, trustFiles, type TestKey } from '../helpers/signed-repo.ts';

const log = pino({ level: 'silent' });
let nats: NatsServer;
let session: NatsSession;
let alice: TestKey;
let mallory: TestKey;
let release: TestKey;

before(async () => {
  nats = await startNats();
  session = await openNatsSession(nats.url, { name: 'pass-trust-test', log, pools: { deb: { architectures: ['amd64'] } } });
  [alice, mallory, release] = await Promise.all([makeTestKey('alice'), makeTestKey('mallory'), makeTestKey('release')]);
});
after(async () => {
  await session?.close();
  await nats?.dispose();
});

const POOLS = 'pools:\n  deb:\n    architectures: [amd64]\ndefaults:\n  pool: deb\n  image: kiln/bookworm-debhelper\n';

async function metadataRepo(): Promise<{ dir: string; source: string }> {
  const source = await makeRepo({ 'debian/changelog': 'x' });
  const files = {
    ...trustFiles([alice], { requireSignedCommits: true, extra: POOLS }),
    'packages/hello.yaml': `name: hello\nversion: 1.0-1\nsource:\n  git: ${source.dir}\n  ref: main\nformat: deb\narchitectures: [amd64]\nrelease: [testing]\n`,
    'distributions/testing.yaml': 'name: testing\nformat: apt\nsuite: testing\narchitectures: [amd64]\n',
  };
  const { dir } = await makeSignedRepo(files, { signer: alice.signer });
  return { dir, source: source.dir };
}

async function deps(dir: string): Promise<PassDeps> {
  return {
    repoDir: dir,
    rev: 'HEAD',
    cache: {},
    signer: release.signer,
    log,
    now: () => new Date(),
    random: () => 0.5,
    policy: DEFAULT_POLICY,
    nats: session,
    artifactsDir: await mkdtemp(join(tmpdir(), 'kiln-artifacts-')),
    gateImage: 'kiln/bookworm-buildd',
  };
}

const queued = async () => (await session.jsm.streams.info(STREAMS.builds)).state.messages;
const statusLog = (dir: string) => git(dir, 'log', '--format=%s', 'kiln/status').catch(() => '');

test('pass trust - an unaccepted root commit is refused: nothing dispatched, refusal recorded', async () => {
  const { dir } = await metadataRepo();
  const before = await queued();
  const report = await reconcilePass(await deps(dir), {});
  assert.equal(report.trust?.trusted, false);
  assert.equal(report.dispatched, 0);
  assert.equal(await queued(), before);
  const head = await git(dir, 'rev-parse', 'HEAD');
  const check = await git(dir, 'show', `kiln/status:checks/${head}.yaml`);
  assert.match(check, /verdict: refused/);
});

test('pass trust - trusted commits are built; an untrusted key-adding commit is refused once', async () => {
  const { dir } = await metadataRepo();
  await acceptTrustRoot({ dir, cache: {}, commit: 'HEAD' });
  const d = await deps(dir);
  const memo: PassMemo = {};

  const before = await queued();
  const first = await reconcilePass(d, memo);
  assert.equal(first.trust?.trusted, true, first.trust?.reason);
  assert.equal(first.dispatched, 1);
  assert.equal(await queued(), before + 1);

  // Mallory adds her own key to kiln.yaml and signs with it: not trusted as of the last trusted commit.
  const evil = await commitSigned(dir, { ...trustFiles([alice, mallory], { requireSignedCommits: true, extra: POOLS }), 'packages/hello.yaml': (await git(dir, 'show', 'HEAD:packages/hello.yaml')).replace('1.0-1', '6.6.6-1') }, { signer: mallory.signer, message: 'evil' });
  const refused = await reconcilePass(d, memo);
  assert.equal(refused.trust?.trusted, false);
  assert.match(refused.trust!.reason, /mallory|not trusted|untrusted/i);
  assert.deepEqual(refused.plan?.actions.map((a) => a.kind), ['refuse']);
  assert.equal(refused.dispatched, 0);
  assert.equal(await queued(), before + 1, 'nothing new dispatched');
  const { state } = await readObserved({ dir, cache: {} });
  assert.equal(state.checks.get(evil)?.verdict, 'refused');
  assert.equal(state.desiredCommit, first.desiredCommit, 'the refused commit never becomes the last reconciled one');
  const commits = (await statusLog(dir)).split('\n').length;

  const again = await reconcilePass(d, memo);
  assert.deepEqual(again.plan?.actions ?? [], [], 'a second pass over the refused commit plans nothing');
  assert.equal((await statusLog(dir)).split('\n').length, commits, 'and writes no new status commit');

  // An unsigned commit on top is refused too.
  const unsigned = await commitSigned(dir, { 'README': 'unsigned\n' }, { signer: null, message: 'unsigned' });
  const r3 = await reconcilePass(d, memo);
  assert.equal(r3.trust?.trusted, false);
  assert.equal(r3.dispatched, 0);
  assert.equal((await readObserved({ dir, cache: {} })).state.checks.get(unsigned)?.verdict, 'refused');
});

test('pass trust - an untrusted commit with malformed metadata is refused, not parsed (no stall)', async () => {
  const { dir } = await metadataRepo();
  await acceptTrustRoot({ dir, cache: {}, commit: 'HEAD' });
  const d = await deps(dir);
  const memo: PassMemo = {};
  await reconcilePass(d, memo);
  const evil = await commitSigned(dir, { 'packages/hello.yaml': 'name: [unclosed\n  : : :\n' }, { signer: mallory.signer, message: 'garbage' });
  const r = await reconcilePass(d, memo);
  assert.equal(r.trust?.trusted, false);
  assert.deepEqual(r.plan?.actions.map((a) => a.kind), ['refuse']);
  assert.equal((await readObserved({ dir, cache: {} })).state.checks.get(evil)?.verdict, 'refused');
});

test('pass trust - a forged kiln/status commit naming an untrusted commit as reconciled is not believed', async () => {
  const { dir } = await metadataRepo();
  await acceptTrustRoot({ dir, cache: {}, commit: 'HEAD' });
  const d = await deps(dir);
  await reconcilePass(d, {});
  const evil = await commitSigned(dir, { 'README': 'unsigned\n' }, { signer: null, message: 'unsigned' });
  // Someone with push access writes an unsigned status commit whose trailer calls `evil` reconciled.
  const tree = await git(dir, 'rev-parse', 'kiln/status^{tree}');
  const forged = await git(dir, 'commit-tree', tree, '-p', 'kiln/status', '-m', 'kiln: totally legit', '-m', `Kiln-Desired: ${evil}`);
  await git(dir, 'update-ref', 'refs/heads/kiln/status', forged);

  const before = await queued();
  await assert.rejects(reconcilePass(d, {}), (e: Error & { code?: string; kind?: string }) => {
    assert.equal(e.code, 'KILN_UNTRUSTED_STATUS');
    assert.equal(e.kind, 'terminal');
    assert.match(e.message, /not written by this reconciler: it is unsigned/);
    return true;
  });
  assert.equal(await queued(), before, 'nothing dispatched');
  assert.equal(await git(dir, 'rev-parse', 'kiln/status'), forged, 'and nothing signed on top of the forgery');
});

test('pass trust - a commit by an untrusted key replacing kiln.yaml with a gitlink is refused and recorded (no stall)', async () => {
  const { dir } = await metadataRepo();
  await acceptTrustRoot({ dir, cache: {}, commit: 'HEAD' });
  const d = await deps(dir);
  const memo: PassMemo = {};
  await reconcilePass(d, memo);
  const evil = await commitSigned(dir, {}, { signer: mallory.signer, entries: { 'kiln.yaml': ['160000', 'c'.repeat(40)] }, message: 'gitlink' });
  const before = await queued();
  const r = await reconcilePass(d, memo);
  assert.equal(r.trust?.trusted, false);
  assert.deepEqual(r.plan?.actions.map((a) => a.kind), ['refuse']);
  assert.equal(await queued(), before, 'nothing dispatched');
  const check = (await readObserved({ dir, cache: {} })).state.checks.get(evil);
  assert.equal(check?.verdict, 'refused');
  assert.match(check?.reason ?? '', /not trusted as of its parent/);
});

test('pass trust - a trusted commit pinning a commit id its source lacks is recorded as invalid, with the place; nothing dispatched', async () => {
  const { dir } = await metadataRepo();
  await acceptTrustRoot({ dir, cache: {}, commit: 'HEAD' });
  const d = await deps(dir);
  const memo: PassMemo = {};
  const first = await reconcilePass(d, memo);
  const hello = await git(dir, 'show', 'HEAD:packages/hello.yaml');
  const bad = await commitSigned(dir, { 'packages/hello.yaml': hello.replace(/ref: main/, `ref: ${'f'.repeat(40)}`).replace('1.0-1', '1.1-1') + '\n' }, { signer: alice.signer, message: 'pin a commit that does not exist' });
  const before = await queued();
  await assert.rejects(reconcilePass(d, memo), { code: 'KILN_INVALID_METADATA' }, 'the pass still fails (terminal: the watch loop waits for a new commit)');
  assert.equal(await queued(), before, 'nothing dispatched');
  const { state } = await readObserved({ dir, cache: {} });
  const check = state.checks.get(bad);
  assert.equal(check?.verdict, 'invalid');
  assert.match(check?.diagnostics?.join('\n') ?? '', new RegExp(`^packages/hello.yaml:5:8: source.ref: no commit 'f{40}'`, 'm'));
  assert.equal(state.desiredCommit, first.desiredCommit, 'an invalid commit never becomes the last reconciled one');
  const commits = (await statusLog(dir)).split('\n').length;
  await assert.rejects(reconcilePass(d, memo), { code: 'KILN_INVALID_METADATA' });
  assert.equal((await statusLog(dir)).split('\n').length, commits, 'recorded once');
});
