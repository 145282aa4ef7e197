// kiln-test: long (scripts/test starts it first, so the run does not end waiting on it)
// A remote metadata repo (smart HTTP: native `git http-backend`) reconciled
// through its URL by a watch loop with the webhook receiver, a forge API
// validated against GitHub's OpenAPI description, and the CLI:
//   - a package's relative `source.git: ../hello.git` resolves against the
//     remote's URL (as a git submodule's relative URL does) and is fetched there;
//   - a signed push webhook makes the next pass fetch and act on the new commit
//     (the pass's own fetch interval is an hour here: only the webhook explains it);
//   - a pull_request webhook for a fork's head, which lives only in
//     refs/pull/N/head, posts kiln/check with the check's real verdict;
//   - webhook delivery ids survive a restart of the receiver;
//   - kiln check --pr N / --rev SHA of a fork head, and an unknown commit;
//   - kiln retry and kiln logs take the URL as the other commands do.
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sign } from '@octokit/webhooks-methods';
import { Objm } from '@nats-io/obj';
import { connect } from '@nats-io/transport-node';
import { pino } from 'pino';
import { startReceiver } from '../../reconciler/forge/cli-wiring.ts';
import type { WebhookServer } from '../../reconciler/forge/webhook-server.ts';
import type { PassReport } from '../../reconciler/pass.ts';
import { keyedInputs } from '../../reconciler/plan/plan-builds.ts';
import { openReconciler, type Reconciler } from '../../reconciler/reconciler-setup.ts';
import { openMirror } from '../../reconciler/remote/mirror.ts';
import { buildRecordFile } from '../../reconciler/status/records.ts';
import { readObserved } from '../../reconciler/status/reader.ts';
import { recordPass } from '../../reconciler/status/writer.ts';
import { watch } from '../../reconciler/watch.ts';
import { BUCKETS } from '../../schema/nats.ts';
import type { BuildRecord } from '../../schema/status.ts';
import { runKiln } from '../helpers/cli.ts';
import { startForgeApi, type ForgeApi } from '../helpers/forge-api.ts';
import { git, makeRepo } from '../helpers/git.ts';
import { startGitServer, type GitServer } from '../helpers/git-server.ts';
import { startNats, type NatsServer } from '../helpers/nats.ts';
import { makeRemoteMetadata, packageYaml, POOLS, pushSigned, type RemoteMetadata } from '../helpers/remote-metadata.ts';
import { commitSigned, makeTestKey, trustFiles, type TestKey } from '../helpers/signed-repo.ts';
import { until } from '../helpers/until.ts';
import { webhookExample } from '../helpers/webhook-examples.ts';

const log = pino({ level: 'silent' });
const SECRET = 'It is a secret to everybody';
const HOUR = 3_600_000;
let api: ForgeApi;
let alice: TestKey;
let mallory: TestKey;
let release: TestKey;
let remote: RemoteMetadata;
let server: GitServer;
let url: string;
let source: { url: string; head: string };
let rec: Reconciler;
let receiver: WebhookServer;
const stop = new AbortController();
let loop: Promise<unknown>;
const passes: Array<{ reason: string; report: PassReport }> = [];
const wakes: string[] = [];
let wake: (reason: string) => void;

const example = webhookExample;

let deliveries = 0;
async function deliver(to: WebhookServer, event: string, payload: unknown, delivery = `delivery-${++deliveries}`) {
  const body = JSON.stringify(payload);
  const res = await fetch(to.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': delivery, 'x-hub-signature-256': await sign(SECRET, body) },
    body,
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, delivery };
}

const startLocalReceiver = () =>
  startReceiver({ listen: '127.0.0.1:0', secret: SECRET }, { repoDir: rec.deps.repoDir, forge: rec.forge!, remote: rec.deps.remote }, (reason) => (wakes.push(reason), wake(reason)), log);

/** A fork's commit on top of main, pushed to the forge only as refs/pull/N/head (as GitHub and Gitea keep a fork's PR head). */
async function forkPullRequest(n: number, signer: TestKey, files: Record<string, string>): Promise<string> {
  const fork = await mkdtemp(join(tmpdir(), 'kiln-fork-'));
  await git(fork, 'clone', '-q', remote.bare, '.');
  const head = await commitSigned(fork, files, { signer: signer.signer, message: `PR #${n}` });
  await git(fork, 'push', '-q', remote.bare, `HEAD:refs/pull/${n}/head`);
  return head;
}

before(async () => {
  [api, alice, mallory, release] = await Promise.all([startForgeApi(), makeTestKey('alice'), makeTestKey('mallory'), makeTestKey('release')]);
  const root = await mkdtemp(join(tmpdir(), 'kiln-forge-root-'));
  // The package's source lives next to the metadata repo on the same forge: root/hello.git.
  const work = await makeRepo({ 'debian/changelog': 'hello (1.0-1) unstable; urgency=low\n' });
  await git(root, 'clone', '-q', '--bare', work.dir, join(root, 'hello.git'));
  const forge = `forge:\n  type: github\n  url: https://github.example\n  apiUrl: ${api.url}\n  repo: acme/metadata\n`;
  remote = await makeRemoteMetadata(alice, {
    root,
    files: {
      ...trustFiles([alice], { requireSignedCommits: true, extra: POOLS + forge }),
      'packages/hello.yaml': packageYaml('hello', '1.0-1', '../hello.git'),
      'distributions/testing.yaml': 'name: testing\nformat: apt\nsuite: testing\narchitectures: [amd64]\n',
    },
  });
  server = await startGitServer(root);
  url = `${server.url}/${remote.name}.git`;
  source = { url: `${server.url}/hello.git`, head: work.commit };
  const mirror = await openMirror({ location: { kind: 'http', url }, stateDir: await mkdtemp(join(tmpdir(), 'kiln-state-')), log });
  rec = await openReconciler({
    repoDir: mirror.gitdir,
    remote: mirror,
    // Passes never fetch on their own within the test: a pass that sees a new commit was made to fetch by the webhook.
    remoteFetchIntervalMs: HOUR,
    signingKey: { keyArmored: release.privateKeyArmored },
    forge: { token: 'test-token', retry: { baseMs: 20, capMs: 200 } },
    log,
  });
  const handle = watch(
    { runPass: () => rec.runPass(), readHead: () => rec.readHead(), onPass: (report, reason) => passes.push({ reason, report }), log, signal: stop.signal, now: () => new Date(), random: () => 0.5 },
    { intervalMs: HOUR },
  );
  wake = (reason) => handle.wake(reason);
  loop = handle.done;
  receiver = await startLocalReceiver();
  await until(() => passes.length >= 1, 120_000, 'the first pass', 10);
});
after(async () => {
  stop.abort();
  await loop;
  await receiver?.close();
  await rec?.close();
  await server?.close();
  await api?.close();
});

test("forge remote - a relative source.git resolves against the remote metadata repo's URL, as a git submodule's does", async () => {
  const first = passes[0].report;
  assert.equal(first.trust?.trusted, true, first.trust?.reason);
  const hello = rec.memo.desired?.state.packages.get('hello');
  assert.ok(hello, `hello is desired; the pass said: ${JSON.stringify(first.plan?.waiting ?? first)}`);
  assert.equal(hello.source.git, '../hello.git');
  assert.equal(hello.source.url, source.url, 'next to the metadata repo on the forge, not next to the mirror in the state dir');
  assert.equal(hello.source.commit, source.head, 'resolved over smart HTTP at that URL');
  assert.ok(first.plan?.actions.some((a) => a.kind === 'build' && 'package' in a && a.package === 'hello'), 'its build is planned');
  assert.ok(server.requests.some((r) => r.includes('/hello.git/info/refs')), 'the source was asked for at the forge');
});

test('forge remote - a push webhook for the URL repo fetches at once, and the pass acts on the new commit (recorded and pushed back)', async () => {
  const pushed = await pushSigned(remote, { 'packages/hello.yaml': packageYaml('hello', '1.0-2', '../hello.git') }, { signer: alice.signer });
  const before = passes.length;
  const push = { ...example('push', (e) => e.ref === 'refs/heads/master'), ref: 'refs/heads/main', after: pushed };
  const res = await deliver(receiver, 'push', push);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.deepEqual(res.body, { woke: true });
  const pass = await until(() => passes.slice(before).find((p) => p.report.desiredCommit === pushed), 120_000, 'a pass on the pushed commit', 10);
  assert.equal(pass.reason, 'webhook push');
  const planned = (pass.report.plan?.actions ?? []).map((a) => `${a.kind} ${'version' in a ? a.version : ''} ${a.reason}`);
  assert.ok(planned.some((a) => a.startsWith('build 1.0-2')), `the new version is planned: ${JSON.stringify({ planned, waiting: pass.report.plan?.waiting })}`);
  // Recorded on kiln/status and pushed back to the forge's repository.
  await until(async () => (await readObserved({ dir: remote.bare, cache: {} })).state.desiredCommit === pushed, 60_000, 'the remote kiln/status records the pushed commit', 20);
  const statuses = await until(() => {
    const list = (api.statuses.get(pushed) ?? []).filter((s) => s.context === 'kiln/reconcile');
    return list.length > 0 && list;
  }, 60_000, 'kiln/reconcile on the pushed commit', 20);
  assert.equal(statuses[0].state, 'pending');
  assert.deepEqual(api.invalid, []);
});

test("forge remote - a pull_request webhook for a fork's head (only in refs/pull/N/head) posts kiln/check with the check's verdict", async () => {
  const good = await forkPullRequest(7, alice, { 'packages/world.yaml': packageYaml('world', '0.1-1', '../hello.git') });
  const bad = await forkPullRequest(8, mallory, { 'packages/hello.yaml': packageYaml('hello', '6.6-6', '../hello.git') });
  for (const [n, sha] of [[7, good], [8, bad]] as const) {
    const opened = example('pull_request', (e) => e.action === 'opened');
    opened.number = n;
    opened.pull_request.number = n;
    opened.pull_request.head.sha = sha;
    const res = await deliver(receiver, 'pull_request', opened);
    assert.equal(res.status, 202, JSON.stringify(res.body));
  }
  const checks = (sha: string) => (api.statuses.get(sha) ?? []).filter((s) => s.context === 'kiln/check').map((s) => `${s.state}: ${s.description}`);
  await until(() => checks(good).length === 2 && checks(bad).length === 2, 120_000, 'both checks reported', 10);
  assert.deepEqual(checks(good), ['pending: checking', 'success: trusted and valid: 1 to build']);
  assert.equal(checks(bad)[0], 'pending: checking');
  assert.match(checks(bad)[1], /^failure: refused: commit \w+ is signed by key \w+, which is not trusted/, 'the trust verdict, not "not fetched"');
  assert.ok(server.requests.some((r) => r.startsWith('POST') && r.includes('git-upload-pack')));
  assert.deepEqual(api.invalid, []);
});

test('forge remote - a delivery id seen before a restart of the receiver is still ignored after it', async () => {
  const head = await git(remote.bare, 'rev-parse', 'main');
  const push = { ...example('push', (e) => e.ref === 'refs/heads/master'), ref: 'refs/heads/main', after: head };
  const first = await deliver(receiver, 'push', push);
  assert.equal(first.status, 202);
  await receiver.close();
  receiver = await startLocalReceiver();
  const wakesBefore = wakes.length;
  const replay = await deliver(receiver, 'push', push, first.delivery);
  assert.equal(replay.status, 200);
  assert.deepEqual(replay.body, { ignored: 'replayed delivery' });
  assert.equal(wakes.length, wakesBefore, 'a replay wakes nothing');
  const fresh = await deliver(receiver, 'push', push);
  assert.equal(fresh.status, 202, 'a new delivery still works');
});

test('forge remote - kiln check --repo URL: --pr N and --rev SHA of a fork head are fetched; an unknown commit is an error naming what was fetched', async () => {
  const head = await forkPullRequest(9, alice, { 'packages/world.yaml': packageYaml('world', '0.2-1', '../hello.git') });
  const stateDir = await mkdtemp(join(tmpdir(), 'kiln-check-state-'));
  const check = (...args: string[]) => runKiln(['check', '--repo', url, '--state-dir', stateDir, '--json', ...args], { KILN_LOG_LEVEL: 'silent' });
  const byPr = await check('--pr', '9');
  assert.equal(byPr.code, 0, byPr.stderr);
  const report = JSON.parse(byPr.stdout) as { rev: string; summary: string };
  assert.equal(report.rev, head);
  assert.equal(report.summary, 'trusted and valid: 1 to build');

  const bySha = await check('--rev', head.slice(0, 10));
  assert.equal(bySha.code, 0, bySha.stderr);
  assert.equal((JSON.parse(bySha.stdout) as { rev: string }).rev, head, 'an abbreviated id, found through the remote ref that points at it');
  const fresh = await mkdtemp(join(tmpdir(), 'kiln-check-state-'));
  const byFullSha = await runKiln(['check', '--repo', url, '--state-dir', fresh, '--json', '--rev', head], { KILN_LOG_LEVEL: 'silent' });
  assert.equal(byFullSha.code, 0, byFullSha.stderr);

  const unknown = await check('--rev', 'f'.repeat(40));
  assert.equal(unknown.code, 2, unknown.stderr);
  assert.match(unknown.stderr, /no commit f{40} in the mirror \(fetched refs\/heads\/main\), and no branch, tag or refs\/pull\/\*\/head of the remote points at it; .*--pr N/);
  const noPr = await check('--pr', '99');
  assert.equal(noPr.code, 2);
  assert.match(noPr.stderr, /no pull request #99 \(the remote has no refs\/pull\/99\/head\)/);
  const badPr = await check('--pr', 'x');
  assert.equal(badPr.code, 2);
  assert.match(badPr.stderr, /--pr takes a/);
});

test('forge remote - kiln retry and kiln logs take a URL --repo: the retry is pushed back signed, the key looked up on the remote kiln/status', async () => {
  // A failed build recorded on the forge's kiln/status by the reconciler (signed by the release key).
  const hello = rec.memo.desired!.state.packages.get('hello')!;
  const { key, inputs } = keyedInputs(hello, 'amd64');
  const failed: BuildRecord = {
    key,
    inputs,
    pool: hello.pool,
    desiredCommit: rec.memo.desired!.state.commit,
    state: 'failed',
    attempts: [{ n: 1, dispatchedAt: '2026-01-01T00:00:00Z', outcome: 'failed', failureClass: 'build', reason: 'exit 2' }],
    failure: { class: 'build', reason: 'exit 2', retryable: false },
  };
  stop.abort(); // the reconciler stops writing: kiln/status is the test's from here
  await loop;
  await recordPass({ dir: remote.bare, cache: {}, signer: release.signer, log, build: () => ({ files: new Map([buildRecordFile(failed)]), summary: 'test: a failed build', trailers: {} }) });

  const stateDir = await mkdtemp(join(tmpdir(), 'kiln-retry-state-'));
  const keyFile = join(stateDir, 'release.asc');
  await writeFile(keyFile, release.privateKeyArmored, { mode: 0o600 });
  const retry = await runKiln(['retry', key.slice(0, 8), '--repo', url, '--state-dir', stateDir, '--signing-key', keyFile, '--json'], { KILN_LOG_LEVEL: 'silent' });
  assert.equal(retry.code, 0, retry.stderr);
  const out = JSON.parse(retry.stdout) as { retried: boolean; statusCommit: string };
  assert.equal(out.retried, true);
  assert.equal(await git(remote.bare, 'rev-parse', 'refs/heads/kiln/status'), out.statusCommit, 'pushed to the forge');
  const { state } = await readObserved({ dir: remote.bare, cache: {} });
  assert.equal(state.builds.get(key)?.failure?.retryable, true);

  const nats: NatsServer = await startNats();
  try {
    // The bucket a reconciler makes on start (no log stored in it).
    const nc = await connect({ servers: nats.url });
    await new Objm(nc).create(BUCKETS.artifacts);
    await nc.close();
    const logs = await runKiln(['logs', key.slice(0, 8), '--repo', url, '--state-dir', stateDir, '--nats', nats.url], { KILN_LOG_LEVEL: 'silent' });
    assert.equal(logs.code, 2, logs.stderr);
    assert.match(logs.stderr, new RegExp(`no stored log for ${key.slice(0, 12)}`), 'the key was found on the remote kiln/status');
  } finally {
    await nats.dispose();
  }
});
