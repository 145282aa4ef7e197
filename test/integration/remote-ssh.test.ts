// A remote metadata repo over SSH (Debian openssh-server with git-shell, run
// by the test): reconciled through an ssh:// URL with --ssh-key, kiln/status
// pushed back; `kiln status` through the CLI; a key the server does not
// accept is a clear error.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { openReconciler } from '../../reconciler/reconciler-setup.ts';
import { openMirror } from '../../reconciler/remote/mirror.ts';
import { syncMirror } from '../../reconciler/remote/sync.ts';
import { assertStatusSigned } from '../../reconciler/trust/index.ts';
import { git } from '../helpers/git.ts';
import { startNats, type NatsServer } from '../helpers/nats.ts';
import { makeRemoteMetadata, type RemoteMetadata } from '../helpers/remote-metadata.ts';
import { makeTestKey, type TestKey } from '../helpers/signed-repo.ts';
import { sshdUnavailable, startSshd, type SshServer } from '../helpers/sshd.ts';

const run = promisify(execFile);
const log = pino({ level: 'silent' });
const skip = sshdUnavailable();
let sshd: SshServer;
let nats: NatsServer;
let alice: TestKey;
let release: TestKey;
let remote: RemoteMetadata;

before(async () => {
  if (skip) return;
  [sshd, nats, alice, release] = await Promise.all([startSshd(), startNats(), makeTestKey('alice'), makeTestKey('release')]);
  remote = await makeRemoteMetadata(alice);
});
after(async () => {
  await sshd?.close();
  await nats?.dispose();
});

test('remote ssh - reconcile through an ssh:// URL with --ssh-key: fetched, kiln/status pushed back signed', { skip }, async () => {
  const stateDir = await mkdtemp(join(tmpdir(), 'kiln-state-'));
  const mirror = await openMirror({ location: { kind: 'ssh', url: sshd.url(remote.bare) }, stateDir, sshKey: sshd.clientKey, log });
  const rec = await openReconciler({ repoDir: mirror.gitdir, remote: mirror, natsUrl: nats.url, signingKey: { keyArmored: release.privateKeyArmored }, log });
  try {
    const report = await rec.runPass();
    assert.equal(report.trust?.trusted, true, report.trust?.reason);
    assert.ok(report.statusCommit);
    assert.equal(await git(remote.bare, 'rev-parse', 'refs/heads/kiln/status'), report.statusCommit);
    await assertStatusSigned({ dir: remote.bare, cache: {}, commit: report.statusCommit!, publicKeyArmored: release.publicKeyArmored });
    // The host key was learnt on first use, into the state dir.
    assert.match(await readFile(join(stateDir, 'known_hosts'), 'utf8'), /ssh-ed25519/);
  } finally {
    await rec.close();
  }
});

test('remote ssh - kiln status --repo ssh://… --ssh-key through the CLI reads the pushed kiln/status', { skip }, async () => {
  // (The scp-like user@host:path form cannot name sshd's test port; its parsing is unit-tested in remote-url.test.ts.)
  const stateDir = await mkdtemp(join(tmpdir(), 'kiln-state-'));
  const { stdout } = await run(process.execPath, ['bin/kiln.js', 'status', '--json', '--repo', sshd.url(remote.bare), '--ssh-key', sshd.clientKey, '--state-dir', stateDir]);
  const summary = JSON.parse(stdout) as { head: { commit: string } | null };
  assert.equal(summary.head?.commit, await git(remote.bare, 'rev-parse', 'refs/heads/kiln/status'));
});

test('remote ssh - a key the server does not accept is a clear error, nothing fetched', { skip }, async () => {
  const mirror = await openMirror({ location: { kind: 'ssh', url: sshd.url(remote.bare) }, stateDir: await mkdtemp(join(tmpdir(), 'kiln-state-')), sshKey: sshd.strangerKey, log });
  await assert.rejects(syncMirror(mirror), (e: Error & { code?: string }) => e.code === 'KILN_REMOTE_AUTH' && /--ssh-key/.test(e.message));
  await assert.rejects(git(mirror.gitdir, 'rev-parse', '--verify', '-q', 'refs/heads/main'));
});
