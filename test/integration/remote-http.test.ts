// kiln-test: long (scripts/test starts it first, so the run does not end waiting on it)
// A remote metadata repo over smart HTTP (native `git http-backend`, push
// enabled), reconciled through its URL: kiln/status is pushed back signed, a
// force push of the tracked branch is refused and recorded, a forged
// kiln/status on the remote is refused, an unreachable remote leaves the
// commit pending until the next pass, and a wrong token is a clear error.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { openReconciler, type Reconciler } from '../../reconciler/reconciler-setup.ts';
import { openMirror, type Mirror } from '../../reconciler/remote/mirror.ts';
import { syncMirror } from '../../reconciler/remote/sync.ts';
import { assertStatusSigned } from '../../reconciler/trust/index.ts';
import { git } from '../helpers/git.ts';
import { startGitServer, type GitServer } from '../helpers/git-server.ts';
import { startNats, type NatsServer } from '../helpers/nats.ts';
import { makeRemoteMetadata, packageYaml, pushSigned, type RemoteMetadata } from '../helpers/remote-metadata.ts';
import { commitSigned, makeTestKey, type TestKey } from '../helpers/signed-repo.ts';

const run = promisify(execFile);
const log = pino({ level: 'silent' });
let nats: NatsServer;
let alice: TestKey;
let release: TestKey;
const closers: Array<() => Promise<unknown>> = [];

before(async () => {
  nats = await startNats();
  [alice, release] = await Promise.all([makeTestKey('alice'), makeTestKey('release')]);
});
after(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
  await nats?.dispose();
});

interface Setup {
  remote: RemoteMetadata;
  server: GitServer;
  url: string;
  mirror: Mirror;
  rec: Reconciler;
}

async function setup(opts: { withNats?: boolean } = {}): Promise<Setup> {
  const remote = await makeRemoteMetadata(alice);
  const server = await startGitServer(remote.root);
  closers.push(() => server.close());
  const url = `${server.url}/${remote.name}.git`;
  const mirror = await openMirror({ location: { kind: 'http', url }, stateDir: await mkdtemp(join(tmpdir(), 'kiln-state-')), log });
  const rec = await openReconciler({
    repoDir: mirror.gitdir,
    remote: mirror,
    natsUrl: opts.withNats === false ? undefined : nats.url,
    signingKey: { keyArmored: release.privateKeyArmored },
    log,
  });
  closers.push(() => rec.close());
  return { remote, server, url, mirror, rec };
}

const lsRemote = async (dir: string, url: string, ref: string) => (await git(dir, 'ls-remote', url, ref)).split('\t')[0] || null;

test('remote http - reconcile through the URL: builds dispatched, kiln/status pushed signed, git ls-remote shows it', async () => {
  const s = await setup();
  const report = await s.rec.runPass();
  assert.equal(report.trust?.trusted, true, report.trust?.reason);
  assert.equal(report.dispatched + report.duplicates, 1);
  assert.ok(report.statusCommit);
  assert.equal(await lsRemote(s.remote.work, s.url, 'refs/heads/kiln/status'), report.statusCommit);
  await assertStatusSigned({ dir: s.remote.bare, cache: {}, commit: report.statusCommit!, publicKeyArmored: release.publicKeyArmored });
  // The HTTP path was used, for fetching and for pushing.
  assert.ok(s.server.requests.some((r) => r.includes('git-receive-pack')));
  // A second pass over the same state plans nothing and pushes nothing.
  const again = await s.rec.runPass();
  assert.equal(again.statusCommit, null);
  assert.equal(await lsRemote(s.remote.work, s.url, 'refs/heads/kiln/status'), report.statusCommit);
});

test('remote http - a force push that rewrites the tracked branch is refused, and the refusal recorded on the remote kiln/status', async () => {
  const s = await setup();
  const first = await s.rec.runPass();
  assert.equal(first.trust?.trusted, true);
  // Rewrite main: a new root commit, signed by the trusted key, that does not descend from what was reconciled.
  await git(s.remote.work, 'checkout', '-q', '--orphan', 'rewritten');
  const forced = await pushSigned(s.remote, { 'packages/evil.yaml': packageYaml('evil', '6.6-6', s.remote.work) }, { signer: alice.signer, parents: [], force: true });
  await git(s.remote.work, 'push', '-q', '-f', 'origin', 'rewritten:main');
  const report = await s.rec.runPass();
  assert.equal(report.desiredCommit, forced);
  assert.equal(report.trust?.trusted, false);
  assert.match(report.trust!.reason, /history was rewritten/);
  assert.equal(report.dispatched, 0);
  const pushed = await lsRemote(s.remote.work, s.url, 'refs/heads/kiln/status');
  assert.equal(pushed, report.statusCommit);
  const check = await git(s.remote.bare, 'show', `kiln/status:checks/${forced}.yaml`);
  assert.match(check, /verdict: refused/);
  assert.match(check, /history was rewritten/);
});

test('remote http - a forged kiln/status fetched from the remote is refused; the mirror keeps the last signed head', async () => {
  const s = await setup();
  const first = await s.rec.runPass();
  assert.ok(first.statusCommit);
  // Someone with push access adds an unsigned commit to kiln/status.
  await git(s.remote.work, 'fetch', '-q', 'origin', 'kiln/status');
  await git(s.remote.work, 'checkout', '-q', '-B', 'forge', 'FETCH_HEAD');
  await git(s.remote.work, 'commit', '-q', '--allow-empty', '-m', 'forged', '--trailer', `Kiln-Desired: ${s.remote.rootCommit}`);
  await git(s.remote.work, 'push', '-q', 'origin', 'forge:kiln/status');
  await assert.rejects(s.rec.runPass(), (e: Error & { code?: string }) => e.code === 'KILN_UNTRUSTED_STATUS' && /fetched from http/.test(e.message));
  assert.equal(await git(s.mirror.gitdir, 'rev-parse', 'refs/heads/kiln/status'), first.statusCommit);
});

test('remote http - unreachable remote: the pass records locally and acks nothing; the next pass pushes what is pending', async () => {
  const s = await setup();
  const first = await s.rec.runPass();
  const port = Number(new URL(s.server.url).port);
  // A new package lands on the remote and is fetched (as a webhook would), then the server goes away.
  const added = await pushSigned(s.remote, { 'packages/second.yaml': packageYaml('second', '2.0-1', s.remote.work) }, { signer: alice.signer });
  await syncMirror(s.mirror, {});
  await s.server.close();
  await assert.rejects(s.rec.runPass(), (e: Error & { code?: string }) => e.code === 'KILN_REMOTE_UNREACHABLE');
  const pending = await git(s.mirror.gitdir, 'rev-parse', 'refs/heads/kiln/status');
  assert.notEqual(pending, first.statusCommit);
  assert.match(await git(s.mirror.gitdir, 'log', '-1', '--format=%B', pending), new RegExp(`Kiln-Desired: ${added}`));
  // Back at the same URL: the next pass pushes the pending commit.
  const server = await startGitServer(s.remote.root, { port });
  closers.push(() => server.close());
  await s.rec.runPass();
  assert.equal(await lsRemote(s.remote.work, s.url, 'refs/heads/kiln/status'), pending);
});

test('remote http - a wrong or missing token, or no repo at the URL, is a clear error and fetches nothing', async () => {
  const remote = await makeRemoteMetadata(alice);
  const server = await startGitServer(remote.root, { token: 's3cret' });
  closers.push(() => server.close());
  const url = `${server.url}/${remote.name}.git`;
  const stateDir = await mkdtemp(join(tmpdir(), 'kiln-state-'));
  for (const token of ['wrong', undefined]) {
    const mirror = await openMirror({ location: { kind: 'http', url }, stateDir, token, log });
    await assert.rejects(syncMirror(mirror), (e: Error & { code?: string }) => e.code === 'KILN_REMOTE_AUTH' && /--git-token-file|KILN_GIT_TOKEN/.test(e.message) && !e.message.includes('wrong'));
    await assert.rejects(git(mirror.gitdir, 'rev-parse', '--verify', '-q', 'refs/heads/main'));
  }
  const missing = await openMirror({ location: { kind: 'http', url: `${server.url}/nope.git` }, stateDir: await mkdtemp(join(tmpdir(), 'kiln-state-')), token: 's3cret', log });
  await assert.rejects(syncMirror(missing), (e: Error & { code?: string }) => e.code === 'KILN_NOT_FOUND' && /no git repository there/.test(e.message));
  const mirror = await openMirror({ location: { kind: 'http', url }, stateDir, token: 's3cret', log });
  const sync = await syncMirror(mirror);
  assert.equal(sync.head, remote.rootCommit);
});

test('remote http - a root of trust accepted through the URL is pushed as refs/kiln/trust-root; an unknown --branch is a clear error', async () => {
  const remote = await makeRemoteMetadata(alice);
  await git(remote.bare, 'update-ref', '-d', 'refs/kiln/trust-root');
  const server = await startGitServer(remote.root);
  closers.push(() => server.close());
  const url = `${server.url}/${remote.name}.git`;
  const stateDir = await mkdtemp(join(tmpdir(), 'kiln-state-'));
  const kiln = (...args: string[]) => run(process.execPath, ['bin/kiln.js', ...args, '--repo', url, '--state-dir', stateDir]);
  await kiln('verify', '--accept-root', remote.rootCommit);
  assert.equal(await lsRemote(remote.work, url, 'refs/kiln/trust-root'), remote.rootCommit);
  await assert.rejects(kiln('status', '--branch', 'nope'), (e: { code?: number; stderr?: string }) => e.code === 2 && /no branch nope on the remote/.test(e.stderr ?? ''));
  await assert.rejects(kiln('status', '--ssh-key', '/dev/null'), (e: { code?: number; stderr?: string }) => e.code === 2 && /--ssh-key is for ssh remotes/.test(e.stderr ?? ''));
});

test('remote http - kiln check --repo URL --rev <PR branch> fetches the branch and prints the PR comment', async () => {
  const remote = await makeRemoteMetadata(alice);
  const server = await startGitServer(remote.root);
  closers.push(() => server.close());
  const url = `${server.url}/${remote.name}.git`;
  await git(remote.work, 'checkout', '-q', '-b', 'add-world');
  await commitSigned(remote.work, { 'packages/world.yaml': packageYaml('world', '0.1-1', remote.work) }, { signer: alice.signer });
  await git(remote.work, 'push', '-q', 'origin', 'add-world');
  const { stdout } = await run(process.execPath, ['bin/kiln.js', 'check', '--repo', url, '--state-dir', await mkdtemp(join(tmpdir(), 'kiln-state-')), '--rev', 'add-world', '--format', 'markdown']);
  assert.match(stdout, /^### ✅ Kiln check passed: trusted and valid: 1 to build/);
  assert.match(stdout, /Merging `[0-9a-f]{12}` into `main`/);
  assert.match(stdout, /\| 🔨 \| build \| world \| 0\.1-1 \| amd64 \| NeverBuilt \|/);
});

test('remote http - kiln reconcile --repo URL --once through the CLI pushes kiln/status', async () => {
  const remote = await makeRemoteMetadata(alice);
  const server = await startGitServer(remote.root);
  closers.push(() => server.close());
  const url = `${server.url}/${remote.name}.git`;
  const stateDir = await mkdtemp(join(tmpdir(), 'kiln-state-'));
  const keyFile = join(stateDir, 'release.key.asc');
  await writeFile(keyFile, release.privateKeyArmored, { mode: 0o600 });
  const { stdout } = await run(process.execPath, ['bin/kiln.js', 'reconcile', '--once', '--json', '--repo', url, '--state-dir', stateDir, '--nats', nats.url, '--signing-key', keyFile]);
  const report = JSON.parse(stdout) as { statusCommit: string | null; desiredCommit: string };
  assert.equal(report.desiredCommit, remote.rootCommit);
  assert.ok(report.statusCommit);
  assert.equal(await lsRemote(remote.work, url, 'refs/heads/kiln/status'), report.statusCommit);
});

test('remote http - a forge silent for longer than 5 s within a request is waited for (Node 20 default agent: "Request timed out")', async () => {
  const remote = await makeRemoteMetadata(alice);
  const server = await startGitServer(remote.root, { delayMs: 6_000 });
  closers.push(() => server.close());
  const mirror = await openMirror({ location: { kind: 'http', url: `${server.url}/${remote.name}.git` }, stateDir: await mkdtemp(join(tmpdir(), 'kiln-state-')), log });
  const report = await syncMirror(mirror, { readOnly: true });
  assert.equal(report.head, remote.rootCommit);
});
