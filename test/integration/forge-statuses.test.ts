// Commit statuses through real reconcile passes (real nats-server, signed git
// commits, status commits, publishing) sent to a forge API that validates every
// request against GitHub's OpenAPI description. The test stands in for the build
// agent (it publishes the results an agent would). Each desired commit must show
// pending, then exactly one final state.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { sign } from '@octokit/webhooks-methods';
import { pino } from 'pino';
import { skippedCommits } from '../../reconciler/forge/pass-step.ts';
import { emptyObserved, type BuildAction } from '../../reconciler/model.ts';
import { openReconciler, type Reconciler } from '../../reconciler/reconciler-setup.ts';
import { acceptTrustRoot } from '../../reconciler/trust/index.ts';
import { InvalidMetadataError } from '../../schema/errors.ts';
import type { BuildResult } from '../../schema/messages.ts';
import { OBJECTS, SUBJECTS } from '../../schema/nats.ts';
import { writeDeb } from '../helpers/deb.ts';
import { startForgeApi, type ForgeApi } from '../helpers/forge-api.ts';
import { commitFiles, git, makeRepo } from '../helpers/git.ts';
import { until } from '../helpers/until.ts';
import { freePort, startNats, type NatsServer } from '../helpers/nats.ts';
import { commitSigned, makeSignedRepo, makeTestKey, trustFiles, type TestKey } from '../helpers/signed-repo.ts';

const log = pino({ level: 'silent' });
let nats: NatsServer;
let api: ForgeApi;
let alice: TestKey;
let release: TestKey;
let source: { dir: string; commit: string };
const closers: Array<() => Promise<void>> = [];

before(async () => {
  [nats, api, alice, release, source] = await Promise.all([startNats(), startForgeApi(), makeTestKey('alice'), makeTestKey('release'), makeRepo({ README: 'source\n' })]);
});
after(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
  await api?.close();
  await nats?.dispose();
});

const forgeYaml = () => `forge:\n  type: github\n  url: https://github.com\n  apiUrl: ${api.url}\n  repo: acme/metadata\n  targetUrl: https://kiln.example/commits/{sha}\n`;
const POOLS = 'pools:\n  deb:\n    architectures: [amd64]\ndefaults:\n  pool: deb\n  image: kiln/bookworm-debhelper\n';
const pkg = (version: string) => `name: hello\nversion: ${version}\nsource:\n  git: ${source.dir}\n  ref: ${source.commit}\nformat: deb\narchitectures: [amd64]\nrelease: [testing]\n`;
const DIST = 'name: testing\nformat: apt\nsuite: testing\narchitectures: [amd64]\n';

/** The statuses the forge shows for a commit, as "state: description". */
const shown = (sha: string) => (api.statuses.get(sha) ?? []).map((s) => `${s.state}: ${s.description}`);


async function reconciler(dir: string): Promise<Reconciler> {
  const work = await mkdtemp(join(tmpdir(), 'kiln-forge-'));
  const rec = await openReconciler({
    repoDir: dir,
    natsUrl: nats.url,
    signingKey: { keyArmored: release.privateKeyArmored },
    reposDir: join(work, 'repos'),
    artifactsDir: join(work, 'artifacts'),
    policy: { resultWaitMs: 1000 },
    forge: { token: 'test-token', retry: { baseMs: 20, capMs: 200 } },
    log,
  });
  closers.push(() => rec.close());
  return rec;
}

/** One pass, then everything it recorded sent. */
async function pass(rec: Reconciler) {
  const report = await rec.runPass();
  await rec.forge!.outbox.drain();
  return report;
}

/** What an agent would publish for a build action. */
async function complete(rec: Reconciler, a: BuildAction, outcome: 'succeeded' | 'failed'): Promise<void> {
  const session = rec.session!;
  const now = new Date().toISOString();
  const base = { v: 1 as const, key: a.key, attempt: a.attempt, inputs: a.inputs, pool: a.pool, agent: 'test-agent', startedAt: now, finishedAt: now };
  let result: BuildResult;
  if (outcome === 'succeeded') {
    const deb = await writeDeb(await mkdtemp(join(tmpdir(), 'kiln-deb-')), { name: a.package, version: a.version, arch: 'amd64' });
    await session.objectStore.putBlob({ name: OBJECTS.artifact(deb.sha256) }, new Uint8Array(await readFile(deb.path)));
    result = { ...base, outcome: 'succeeded', exitCode: 0, artifacts: [{ name: deb.name, sha256: deb.sha256, size: deb.size }] };
  } else {
    result = { ...base, outcome: 'failed', exitCode: 2, failureClass: 'build', reason: 'dh_auto_build: make returned exit code 2', artifacts: [] };
  }
  await session.js.publish(SUBJECTS.result(a.key), JSON.stringify(result), { msgID: `${a.key}.${a.attempt}.result` });
}

const buildOf = (r: { plan?: { actions: Array<{ kind: string }> } }) => r.plan!.actions.find((a) => a.kind === 'build') as BuildAction;

test('forge statuses - every desired commit shows pending then one final: built, superseded, skipped, build failed, invalid, refused', async () => {
  const files = { ...trustFiles([alice], { requireSignedCommits: true, extra: POOLS + forgeYaml() }), 'packages/hello.yaml': pkg('1.0-1'), 'distributions/testing.yaml': DIST };
  const { dir, commit: c1 } = await makeSignedRepo(files, { signer: alice.signer });
  await acceptTrustRoot({ dir, cache: {}, commit: 'HEAD' });
  const rec = await reconciler(dir);

  const p1 = await pass(rec);
  assert.deepEqual(shown(c1), ['pending: reconciling'], 'seen: pending while its build runs');
  await complete(rec, buildOf(p1), 'succeeded');
  const p2 = await pass(rec);
  assert.deepEqual(p2.published, ['testing']);
  assert.deepEqual(shown(c1), ['pending: reconciling'], 'published, but the pass that confirms it comes next');
  await pass(rec);
  assert.deepEqual(shown(c1), ['pending: reconciling', 'success: built and published as desired']);

  const c2 = await commitSigned(dir, { 'packages/hello.yaml': pkg('1.1-1') }, { signer: alice.signer });
  await pass(rec);
  const c3 = await commitSigned(dir, { 'packages/hello.yaml': pkg('1.2-1') }, { signer: alice.signer });
  const c4 = await commitSigned(dir, { 'packages/hello.yaml': pkg('1.3-1') }, { signer: alice.signer });
  const p5 = await pass(rec);
  await complete(rec, buildOf(p5), 'failed');
  await pass(rec);

  const c5 = await commitSigned(dir, { 'packages/hello.yaml': 'name: hello\nversion: [\n' }, { signer: alice.signer });
  await assert.rejects(rec.runPass(), InvalidMetadataError);
  await rec.forge!.outbox.drain();
  const c6 = await commitSigned(dir, { 'packages/hello.yaml': pkg('1.4-1') }, { signer: null, message: 'unsigned' });
  await pass(rec);
  await pass(rec);

  assert.deepEqual(shown(c2), ['pending: reconciling', `success: superseded by ${c4.slice(0, 12)}`]);
  assert.deepEqual(shown(c3), ['pending: seen: waiting to be reconciled', `success: superseded by ${c4.slice(0, 12)}`], 'a commit no pass ran for');
  const [c4pending, c4final, ...c4rest] = shown(c4);
  assert.equal(c4pending, 'pending: reconciling');
  assert.match(c4final, /^failure: build failed: build hello\/amd64 \w+: .*dh_auto_build: make returned exit code 2/);
  assert.deepEqual(c4rest, []);
  const [c5pending, c5final, ...c5rest] = shown(c5);
  assert.equal(c5pending, 'pending: reconciling');
  assert.match(c5final, /^failure: invalid: 1 problem: packages\/hello\.yaml:\d+:\d+: YAML: /);
  assert.deepEqual(c5rest, []);
  const [c6pending, c6final, ...c6rest] = shown(c6);
  assert.equal(c6pending, 'pending: reconciling');
  assert.match(c6final, /^failure: refused: commit \w+ is not signed/);
  assert.deepEqual(c6rest, []);

  for (const sha of [c1, c2, c3, c4, c5, c6]) {
    for (const s of api.statuses.get(sha)!) {
      assert.equal(s.context, 'kiln/reconcile');
      assert.equal(s.target_url, `https://kiln.example/commits/${sha}`);
    }
  }
  assert.deepEqual(api.invalid, [], 'every request matched GitHub’s API description');

  // The outbox is on kiln/status, and a final state rides in the same signed commit as the outcome it reports.
  const finalCommit = await git(dir, 'log', '-1', '--format=%H', 'kiln/status', '--', `forge/statuses/${c4}.yaml`);
  const changed = (await git(dir, 'show', '--name-only', '--format=', finalCommit)).split('\n');
  assert.ok(changed.some((p) => p.startsWith('builds/')), `the build failure and c4's final status are one commit: ${changed.join(', ')}`);
});

test('forge statuses - a forge answering 502 three times then 201 gets each status exactly once; a 4xx is dropped, a rate limit waits', async () => {
  const { dir, commit: c1 } = await makeSignedRepo(trustFiles([alice], { requireSignedCommits: true, extra: forgeYaml() }), { signer: alice.signer });
  await acceptTrustRoot({ dir, cache: {}, commit: 'HEAD' });
  const rec = await reconciler(dir);
  const posts = () => api.requests.filter((r) => r.operation === 'repos/create-commit-status').map((r) => r.status);
  const before = posts().length;

  api.faults.push({ status: 502 }, { status: 502 }, { status: 502 });
  await rec.runPass();
  // The final state is decided by the pass that confirms the outcome (as in the first test), so
  // keep reconciling, as the watch loop would, until the outbox has sent both.
  await until(async () => shown(c1).length === 2 || (await rec.runPass(), false), 120_000, 'both statuses after three 502s', 10);
  assert.deepEqual(shown(c1), ['pending: reconciling', 'success: built and published as desired']);
  assert.deepEqual(posts().slice(before), [502, 502, 502, 201, 201]);

  const c2 = await commitSigned(dir, { 'README.md': 'two\n' }, { signer: alice.signer });
  api.faults.push({ status: 422, message: 'No commit found for SHA' }, { status: 429, headers: { 'retry-after': '1' } });
  const mark = posts().length;
  await rec.runPass();
  await until(async () => shown(c2).length === 1 || (await rec.runPass(), false), 120_000, 'the final status after the rate limit', 10);
  assert.deepEqual(shown(c2), ['success: built and published as desired'], 'the refused pending is dropped, not retried; the rate-limited final is sent later');
  assert.deepEqual(posts().slice(mark), [422, 429, 201]);
  await rec.forge!.outbox.drain();
  assert.deepEqual(posts().slice(mark), [422, 429, 201], 'nothing is sent twice');
  assert.deepEqual(api.invalid, []);
});

test('forge statuses - the test forge refuses a request GitHub’s description does not allow', async () => {
  const res = await fetch(`${api.url}/repos/acme/metadata/statuses/${'a'.repeat(40)}`, {
    method: 'POST',
    headers: { authorization: 'token t', 'content-type': 'application/json' },
    body: JSON.stringify({ state: 'done', context: 'kiln/reconcile' }),
  });
  assert.equal(res.status, 422);
  assert.match(api.invalid.at(-1) ?? '', /repos\/create-commit-status: body: .*allowed values/);
  api.invalid.length = 0;
});

/** `kiln reconcile --once` as its own process, which the test may kill. */
function kilnOnce(dir: string, keyFile: string, tokenFile: string) {
  const child = spawn(process.execPath, ['bin/kiln.js', 'reconcile', '--once', '--repo', dir, '--signing-key', keyFile, '--forge-token-file', tokenFile], {
    cwd: join(import.meta.dirname, '..', '..'),
    env: { ...process.env, KILN_LOG_LEVEL: 'warn', KILN_NATS_URL: '' },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => stderr };
}

test('forge statuses - killed while sending (answer lost, or before the request) a restart still shows each status once', async () => {
  const { dir, commit: c1 } = await makeSignedRepo(trustFiles([alice], { requireSignedCommits: true, extra: forgeYaml() }), { signer: alice.signer });
  await acceptTrustRoot({ dir, cache: {}, commit: 'HEAD' });
  const secrets = await mkdtemp(join(tmpdir(), 'kiln-forge-secrets-'));
  const keyFile = join(secrets, 'release.key.asc');
  const tokenFile = join(secrets, 'token');
  await writeFile(keyFile, release.privateKeyArmored, { mode: 0o600 });
  await writeFile(tokenFile, 'test-token\n', { mode: 0o600 });
  const hanging = () => api.requests.filter((r) => r.status === 0).length;

  // 1. The forge records the pending status but the answer never comes: killed while waiting.
  let h = hanging();
  api.faults.push({ status: 201, hang: 'after-recording' });
  const first = kilnOnce(dir, keyFile, tokenFile);
  await until(() => hanging() > h, 120_000, 'the hanging request', 10);
  first.child.kill('SIGKILL');
  await first.exited;
  assert.deepEqual(shown(c1), ['pending: reconciling']);
  const second = kilnOnce(dir, keyFile, tokenFile);
  assert.equal(await second.exited, 0, second.stderr());
  assert.deepEqual(shown(c1), ['pending: reconciling', 'success: built and published as desired'], 'the lost answer is asked about, not sent again');

  // 2. Killed after the status commit, before the forge got anything.
  const c2 = await commitSigned(dir, { 'README.md': 'two\n' }, { signer: alice.signer });
  h = hanging();
  api.faults.push({ status: 201, hang: 'before-recording' });
  const third = kilnOnce(dir, keyFile, tokenFile);
  await until(() => hanging() > h, 120_000, 'the hanging request', 10);
  third.child.kill('SIGKILL');
  await third.exited;
  assert.deepEqual(shown(c2), []);
  assert.match(await git(dir, 'show', `kiln/status:forge/statuses/${c2}.yaml`), /state: success/, 'recorded before the kill');
  const fourth = kilnOnce(dir, keyFile, tokenFile);
  assert.equal(await fourth.exited, 0, fourth.stderr());
  assert.deepEqual(shown(c2), ['pending: reconciling', 'success: built and published as desired']);
  assert.deepEqual(shown(c1), ['pending: reconciling', 'success: built and published as desired'], 'nothing sent again for the earlier commit');
  assert.deepEqual(api.invalid, []);
});

test('forge statuses - kiln/check of a pull request survives a kill while it is being sent', async () => {
  const { dir, commit: c1 } = await makeSignedRepo(trustFiles([alice], { requireSignedCommits: true, extra: forgeYaml() }), { signer: alice.signer });
  await acceptTrustRoot({ dir, cache: {}, commit: 'HEAD' });
  const pr = await commitSigned(dir, { 'README.md': 'a pull request\n' }, { signer: alice.signer });
  await git(dir, 'update-ref', 'refs/heads/pr-1', pr);
  await git(dir, 'update-ref', 'refs/heads/main', c1);
  await git(dir, 'reset', '-q', '--hard', 'main');
  const secrets = await mkdtemp(join(tmpdir(), 'kiln-forge-secrets-'));
  const files = { key: join(secrets, 'release.key.asc'), token: join(secrets, 'token'), secret: join(secrets, 'webhook') };
  await writeFile(files.key, release.privateKeyArmored, { mode: 0o600 });
  await writeFile(files.token, 'test-token\n', { mode: 0o600 });
  await writeFile(files.secret, 'hook-secret\n', { mode: 0o600 });
  const port = await freePort();
  const start = () => {
    const child = spawn(process.execPath, ['bin/kiln.js', 'reconcile', '--watch', '--repo', dir, '--signing-key', files.key, '--forge-token-file', files.token, '--webhook-listen', `127.0.0.1:${port}`, '--webhook-secret-file', files.secret], {
      cwd: join(import.meta.dirname, '..', '..'),
      env: { ...process.env, KILN_LOG_LEVEL: 'warn', KILN_NATS_URL: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child.stderr.resume();
    return { child, exited: new Promise((resolve) => child.on('exit', resolve)) };
  };
  const prEvent = JSON.stringify({ action: 'opened', number: 1, pull_request: { number: 1, head: { sha: pr, ref: 'pr-1' }, base: { ref: 'main' } } });
  const post = async (event: string, body: string, delivery: string) =>
    fetch(`http://127.0.0.1:${port}/`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-github-event': event, 'x-github-delivery': delivery, 'x-hub-signature-256': await sign('hook-secret', body) }, body }).then((r) => r.status);
  const checks = () => (api.statuses.get(pr) ?? []).filter((s) => s.context === 'kiln/check').map((s) => `${s.state}: ${s.description}`);

  const first = start();
  await until(() => shown(c1).length === 2, 120_000, 'the first pass and its kiln/reconcile statuses', 20);
  const h = api.requests.filter((r) => r.status === 0).length;
  api.faults.push({ status: 201, hang: 'after-recording' });
  assert.equal(await post('pull_request', prEvent, 'pr-delivery-1'), 202);
  await until(() => api.requests.filter((r) => r.status === 0).length > h, 120_000, 'the hanging kiln/check request', 10);
  first.child.kill('SIGKILL');
  await first.exited;
  assert.deepEqual(checks(), ['pending: checking']);

  const second = start();
  try {
    await until(() => checks().length === 2, 120_000, 'the kiln/check verdict after the restart', 20);
    assert.deepEqual(checks(), ['pending: checking', 'success: trusted and valid: no change to builds or releases']);
  } finally {
    second.child.kill('SIGTERM');
    await second.exited;
  }
  assert.deepEqual(shown(c1), ['pending: reconciling', 'success: built and published as desired'], 'nothing sent twice');
  assert.deepEqual(api.invalid, []);
});

test('forge statuses - skipped commits are named only back to a known commit; a rewritten branch names none', async () => {
  const { dir, commit: a } = await makeRepo({ 'README.md': 'a\n' });
  const b = await commitFiles(dir, { 'README.md': 'b\n' });
  const c = await commitFiles(dir, { 'README.md': 'c\n' });
  const d = await commitFiles(dir, { 'README.md': 'd\n' });
  const observed = (desiredCommit?: string, known: string[] = []) => ({ ...emptyObserved(), desiredCommit, forge: new Map(known.map((k) => [k, { commit: k, context: 'kiln/reconcile' as const, statuses: [] }])) });
  assert.deepEqual(await skippedCommits(dir, {}, d, observed(a)), [c, b], 'back to the last reconciled commit');
  assert.deepEqual(await skippedCommits(dir, {}, d, observed(a, [c])), [], 'back to a commit with a record');
  assert.deepEqual(await skippedCommits(dir, {}, d, observed()), [], 'a repo new to Kiln: nothing before its head');
  assert.deepEqual(await skippedCommits(dir, {}, d, observed('f'.repeat(40))), [], 'the anchor is not an ancestor: a rewritten branch');
});
