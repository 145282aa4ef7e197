// Two reconcilers pushing kiln/status to the same remote (smart HTTP) at once,
// each through its own mirror and the reconciler's record-then-push path
// (status writer + reconciler/remote/remote-step.ts): no record is lost, both
// converge on the remote head, history stays linear and every commit is signed
// by the release key.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { openMirror, type Mirror } from '../../reconciler/remote/mirror.ts';
import { remoteStep } from '../../reconciler/remote/remote-step.ts';
import { checkRecordFile } from '../../reconciler/status/records.ts';
import type { ObservedSnapshot } from '../../reconciler/status/snapshot.ts';
import { recordPass } from '../../reconciler/status/writer.ts';
import { assertStatusSigned } from '../../reconciler/trust/index.ts';
import { git } from '../helpers/git.ts';
import { startGitServer, type GitServer } from '../helpers/git-server.ts';
import { makeRemoteMetadata } from '../helpers/remote-metadata.ts';
import { makeTestKey, type TestKey } from '../helpers/signed-repo.ts';

// Lines saying a push lost the compare-and-set (the remote moved) and this pass was re-applied.
const moved: string[] = [];
const log = pino({ level: 'info' }, { write: (line: string) => void (line.includes('kiln/status moved on the remote') && moved.push(line)) });
let server: GitServer;
let release: TestKey;

before(async () => {
  release = await makeTestKey('release');
});
after(async () => {
  await server?.close();
});

const fakeCommit = (writer: string, i: number) => createHash('sha1').update(`${writer}-${i}`).digest('hex');

/** One reconciler's passes: each records one check record and pushes, as pass.ts record() does. */
async function writer(name: string, mirror: Mirror, passes: number, firstPush: () => Promise<void>): Promise<void> {
  const verify = (commit: string) => assertStatusSigned({ dir: mirror.gitdir, cache: {}, commit, publicKeyArmored: release.publicKeyArmored });
  const step = remoteStep(mirror, verify, release.signer);
  let previous: ObservedSnapshot | undefined;
  for (let i = 0; i < passes; i++) {
    await step.beforePass();
    const record = { commit: fakeCommit(name, i), verdict: 'refused' as const, reason: `${name} pass ${i}`, at: new Date().toISOString() };
    const write = (prev: ObservedSnapshot | undefined) =>
      recordPass({
        dir: mirror.gitdir,
        cache: {},
        signer: release.signer,
        previous: prev,
        log,
        verifyHead: verify,
        build: () => ({ files: new Map([checkRecordFile(record)]), summary: `${name} pass ${i}`, trailers: {} }),
      });
    const first = await write(previous);
    if (i === 0) await firstPush();
    try {
      previous = (await step.afterRecord(first, () => write(first.snapshot))).snapshot;
    } catch (e) {
      // The other writer kept winning: the commit stays pending, and the next pass re-applies and pushes it.
      if ((e as { code?: string }).code !== 'KILN_REMOTE_PUSH') throw e;
      previous = first.snapshot;
    }
  }
}

/** A pass with nothing new of its own: fetch (re-applying what is pending) and push. */
async function settle(mirror: Mirror): Promise<void> {
  const verify = (commit: string) => assertStatusSigned({ dir: mirror.gitdir, cache: {}, commit, publicKeyArmored: release.publicKeyArmored });
  const step = remoteStep(mirror, verify, release.signer);
  await step.beforePass();
  await step.afterRecord({ snapshot: undefined }, async () => ({ snapshot: undefined }));
}

test('remote concurrent - two reconcilers push kiln/status at once: no record lost, linear, all signed, both converge', async () => {
  const alice = await makeTestKey('alice');
  const remote = await makeRemoteMetadata(alice);
  server = await startGitServer(remote.root);
  const url = `${server.url}/${remote.name}.git`;
  const mirrors = await Promise.all(['a', 'b'].map(async () => openMirror({ location: { kind: 'http', url }, stateDir: await mkdtemp(join(tmpdir(), 'kiln-state-')), log })));
  const PASSES = 8;
  // Both first passes are recorded on the same (empty) remote state before either pushes: one push must lose.
  let arrived = 0;
  let release2!: () => void;
  const bothRecorded = new Promise<void>((r) => (release2 = r));
  const barrier = async () => {
    if (++arrived === 2) release2();
    await bothRecorded;
  };
  await Promise.all([writer('a', mirrors[0], PASSES, barrier), writer('b', mirrors[1], PASSES, barrier)]);
  for (const m of mirrors) await settle(m);
  assert.ok(moved.length >= 1, 'at least one push was rejected and re-applied');

  const files = (await git(remote.bare, 'ls-tree', '-r', '--name-only', 'kiln/status', 'checks/')).split('\n');
  const want = ['a', 'b'].flatMap((w) => Array.from({ length: PASSES }, (_, i) => `checks/${fakeCommit(w, i)}.yaml`));
  assert.deepEqual(files.sort(), want.sort());

  const commits = (await git(remote.bare, 'rev-list', 'kiln/status')).split('\n');
  // A rejected push is re-applied on the other writer's head, never merged; a pass that gave up is re-applied by the next.
  assert.ok(commits.length >= 2 * PASSES, `${commits.length} commits`);
  assert.equal(await git(remote.bare, 'rev-list', '--min-parents=2', 'kiln/status'), '', 'linear history');
  for (const c of commits) await assertStatusSigned({ dir: remote.bare, cache: {}, commit: c, publicKeyArmored: release.publicKeyArmored });

  const head = await git(remote.bare, 'rev-parse', 'kiln/status');
  for (const m of mirrors) {
    await remoteStep(m, async () => undefined).beforePass();
    assert.equal(await git(m.gitdir, 'rev-parse', 'refs/heads/kiln/status'), head);
  }
});

test('remote concurrent - a commit that never got pushed is re-applied on the head another writer pushed meanwhile', async () => {
  const alice = await makeTestKey('alice');
  const remote = await makeRemoteMetadata(alice);
  const srv = await startGitServer(remote.root);
  try {
    const url = `${srv.url}/${remote.name}.git`;
    const [m1, m2] = await Promise.all(['1', '2'].map(async () => openMirror({ location: { kind: 'http', url }, stateDir: await mkdtemp(join(tmpdir(), 'kiln-state-')), log })));
    const verify = (m: Mirror) => (commit: string) => assertStatusSigned({ dir: m.gitdir, cache: {}, commit, publicKeyArmored: release.publicKeyArmored });
    const [s1, s2] = [remoteStep(m1, verify(m1), release.signer), remoteStep(m2, verify(m2), release.signer)];
    const record = (name: string, reason: string) => ({ commit: fakeCommit(name, 0), verdict: 'refused' as const, reason, at: '2026-01-01T00:00:00.000Z' });
    const write = (m: Mirror, records: ReturnType<typeof record>[]) =>
      recordPass({ dir: m.gitdir, cache: {}, signer: release.signer, log, verifyHead: verify(m), build: () => ({ files: new Map(records.map(checkRecordFile)), summary: 'test', trailers: {} }) });
    await s1.beforePass();
    await s2.beforePass();
    // Writer 1 records "mine" and "shared" but its push never lands (as if the remote was down).
    const unpushed = await write(m1, [record('mine', 'from writer 1'), record('shared', 'from writer 1')]);
    // Writer 2 records "theirs" and its own "shared", and pushes.
    const pushed = await write(m2, [record('theirs', 'from writer 2'), record('shared', 'from writer 2')]);
    await s2.afterRecord(pushed, async () => pushed);
    // Writer 1's next pass: diverged; its records go on top of writer 2's head, then out.
    assert.equal((await s1.beforePass())?.status, 'diverged');
    await s1.afterRecord(unpushed, async () => unpushed);

    const head = await git(remote.bare, 'rev-parse', 'kiln/status');
    assert.equal(await git(remote.bare, 'rev-parse', `${head}^`), pushed.commit, 're-applied on top of the other writer, not merged');
    assert.match(await git(remote.bare, 'show', `kiln/status:checks/${fakeCommit('mine', 0)}.yaml`), /from writer 1/);
    assert.match(await git(remote.bare, 'show', `kiln/status:checks/${fakeCommit('theirs', 0)}.yaml`), /from writer 2/);
    assert.match(await git(remote.bare, 'show', `kiln/status:checks/${fakeCommit('shared', 0)}.yaml`), /from writer 2/, 'both changed it: the remote (first recorded) wins');
    await assertStatusSigned({ dir: remote.bare, cache: {}, commit: head, publicKeyArmored: release.publicKeyArmored });
  } finally {
    await srv.close();
  }
});
