// The webhook receiver of `kiln reconcile --watch`, on a real watch loop over a
// real signed metadata repo, fed real payloads (@octokit/webhooks-examples)
// signed by the test: a push to the tracked branch wakes the loop at once; a
// pull_request posts kiln/check (to a forge API validated against GitHub's
// OpenAPI description); bad signatures, replays, oversized and malformed bodies
// change nothing.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, test } from 'node:test';
import { sign } from '@octokit/webhooks-methods';
import { pino } from 'pino';
import { startReceiver } from '../../reconciler/forge/cli-wiring.ts';
import type { WebhookServer } from '../../reconciler/forge/webhook-server.ts';
import { openReconciler, type Reconciler } from '../../reconciler/reconciler-setup.ts';
import { acceptTrustRoot } from '../../reconciler/trust/index.ts';
import { watch } from '../../reconciler/watch.ts';
import { startForgeApi, type ForgeApi } from '../helpers/forge-api.ts';
import { git } from '../helpers/git.ts';
import { until } from '../helpers/until.ts';
import { webhookExample } from '../helpers/webhook-examples.ts';
import { commitSigned, makeSignedRepo, makeTestKey, trustFiles, type TestKey } from '../helpers/signed-repo.ts';

const log = pino({ level: 'silent' });
const SECRET = 'It is a secret to everybody';
let api: ForgeApi;
let alice: TestKey;
let mallory: TestKey;
let dir: string;
let prGood: string;
let prUntrusted: string;
let rec: Reconciler;
let receiver: WebhookServer;
const stop = new AbortController();
let loop: Promise<unknown>;
const passes: string[] = [];
const wakes: string[] = [];

const example = webhookExample;


type Flavour = 'github' | 'gitea' | 'forgejo';
let deliveries = 0;

/** POST a delivery the way a forge does; `signature` overrides the real one. */
async function deliver(event: string, payload: unknown, o: { flavour?: Flavour; signature?: string | null; delivery?: string; raw?: string } = {}) {
  const body = o.raw ?? JSON.stringify(payload);
  const real = await sign(SECRET, body);
  const flavour = o.flavour ?? 'github';
  const delivery = o.delivery ?? `delivery-${++deliveries}`;
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const sig = o.signature === undefined ? real : o.signature;
  if (flavour === 'github') Object.assign(headers, { 'x-github-event': event, 'x-github-delivery': delivery }, sig === null ? {} : { 'x-hub-signature-256': sig });
  else {
    const F = flavour === 'gitea' ? 'Gitea' : 'Forgejo';
    Object.assign(headers, { [`x-${flavour}-event`]: event, [`x-${flavour}-delivery`]: delivery }, sig === null ? {} : { [`x-${F.toLowerCase()}-signature`]: sig.replace(/^sha256=/, '') });
  }
  const res = await fetch(receiver.url, { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown>, delivery };
}

const forgeYaml = () => `forge:\n  type: gitea\n  url: https://gitea.example\n  apiUrl: ${api.url}\n  repo: acme/metadata\n`;

/** A commit on its own branch (a PR head), leaving main where it was. */
async function prHead(branch: string, signer: TestKey | null, files: Record<string, string>): Promise<string> {
  const main = await git(dir, 'rev-parse', 'HEAD');
  const head = await commitSigned(dir, files, { signer: signer?.signer ?? null, message: `PR ${branch}` });
  await git(dir, 'update-ref', `refs/heads/${branch}`, head);
  await git(dir, 'update-ref', 'refs/heads/main', main);
  await git(dir, 'reset', '-q', '--hard', 'main');
  return head;
}

before(async () => {
  [api, alice, mallory] = await Promise.all([startForgeApi(), makeTestKey('alice'), makeTestKey('mallory')]);
  ({ dir } = await makeSignedRepo(trustFiles([alice], { requireSignedCommits: true, extra: forgeYaml() }), { signer: alice.signer }));
  await acceptTrustRoot({ dir, cache: {}, commit: 'HEAD' });
  // PR heads are made before the loop runs: making one moves main for a moment, which the loop must not see.
  prGood = await prHead('pr-good', alice, { 'README.md': 'hello\n' });
  prUntrusted = await prHead('pr-untrusted', mallory, { 'README.md': 'mallory was here\n' });
  const release = await makeTestKey('release');
  rec = await openReconciler({ repoDir: dir, signingKey: { keyArmored: release.privateKeyArmored }, forge: { token: 'test-token', retry: { baseMs: 20, capMs: 200 } }, log });
  const handle = watch(
    { runPass: () => rec.runPass(), readHead: () => rec.readHead(), onPass: (_r, reason) => passes.push(reason), log, signal: stop.signal, now: () => new Date(), random: () => 0.5 },
    { intervalMs: 3_600_000 },
  );
  loop = handle.done;
  receiver = await startReceiver({ listen: '127.0.0.1:0', secret: SECRET }, { repoDir: dir, forge: rec.forge! }, (reason) => (wakes.push(reason), handle.wake(reason)), log);
  await until(() => passes.length >= 1, 120_000, 'the first pass', 10);
});
after(async () => {
  stop.abort();
  await loop;
  await receiver?.close();
  await rec?.close();
  await api?.close();
});

test('forge webhook - a signed push to the tracked branch wakes the loop at once (GitHub, Gitea and Forgejo signatures)', async () => {
  const head = await git(dir, 'rev-parse', 'HEAD');
  const push = { ...example('push', (e) => e.ref === 'refs/heads/master'), ref: 'refs/heads/main', after: head };
  for (const flavour of ['github', 'gitea', 'forgejo'] as const) {
    const before = passes.filter((p) => p === 'webhook push').length;
    const res = await deliver('push', push, { flavour });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.deepEqual(res.body, { woke: true });
    await until(() => passes.filter((p) => p === 'webhook push').length > before, 120_000, `a pass woken by the ${flavour} push`, 10);
  }
  const other = await deliver('push', { ...push, ref: 'refs/heads/feature' });
  assert.equal(other.status, 202);
  assert.match(String(other.body.ignored), /not the tracked branch/);
});

test('forge webhook - a wrong or missing signature gets 401 and wakes nothing', async () => {
  const wakesBefore = wakes.length;
  const push = { ...example('push', (e) => e.ref === 'refs/heads/master'), ref: 'refs/heads/main' };
  const wrong = await deliver('push', push, { signature: await sign('not the secret', JSON.stringify(push)) });
  assert.equal(wrong.status, 401);
  const gitea = await deliver('push', push, { flavour: 'gitea', signature: 'sha256=' + 'ab'.repeat(32) });
  assert.equal(gitea.status, 401);
  const missing = await deliver('push', push, { signature: null });
  assert.equal(missing.status, 401);
  // A bad signature is refused before the body is read as JSON: not even a 400.
  const garbage = await deliver('push', undefined, { raw: '{not json', signature: 'sha256=00' });
  assert.equal(garbage.status, 401);
  assert.equal(wakes.length, wakesBefore, 'no wake from a delivery that failed verification');
  // The same delivery id, properly signed later, is still accepted: a refused delivery does not burn its id.
  const retried = await deliver('push', { ...push, after: await git(dir, 'rev-parse', 'HEAD') }, { delivery: wrong.delivery });
  assert.equal(retried.status, 202);
});

test('forge webhook - a replayed delivery id is answered and ignored', async () => {
  const push = { ...example('push', (e) => e.ref === 'refs/heads/master'), ref: 'refs/heads/main', after: await git(dir, 'rev-parse', 'HEAD') };
  const first = await deliver('push', push);
  assert.equal(first.status, 202);
  const wakesBefore = wakes.length;
  const replay = await deliver('push', push, { delivery: first.delivery });
  assert.equal(replay.status, 200);
  assert.deepEqual(replay.body, { ignored: 'replayed delivery' });
  assert.equal(wakes.length, wakesBefore);
});

test('forge webhook - oversized bodies get 413 (declared or streamed), malformed ones 400', async () => {
  const wakesBefore = wakes.length;
  const big = JSON.stringify({ ref: 'refs/heads/main', padding: 'x'.repeat(1024 * 1024) });
  const declared = await deliver('push', undefined, { raw: big });
  assert.equal(declared.status, 413);

  // Streamed without a length: refused once 1 MiB has passed, without reading the rest.
  const streamed = await new Promise<number>((resolve, reject) => {
    const req = request(receiver.url, { method: 'POST', headers: { 'x-github-event': 'push', 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
    const chunk = Buffer.alloc(64 * 1024, 'x');
    let sent = 0;
    const write = () => {
      while (sent < 64 * 1024 * 1024 && req.write(chunk)) sent += chunk.length;
      if (sent < 64 * 1024 * 1024 && !req.destroyed) req.once('drain', write);
      else req.end();
    };
    write();
  });
  assert.equal(streamed, 413);

  const notJson = await deliver('push', undefined, { raw: '{"ref": "refs/heads/main", ' });
  assert.equal(notJson.status, 400);
  const noAfter = await deliver('push', { ref: 'refs/heads/main', after: 'not-a-sha' });
  assert.equal(noAfter.status, 400);
  assert.match(String(noAfter.body.error), /malformed push event: \/after/);
  assert.equal(wakes.length, wakesBefore);
});

test('forge webhook - a pull_request posts kiln/check on its head: success when trusted and valid, failure when not', async () => {
  const [good, untrusted] = [prGood, prUntrusted];
  const opened = example('pull_request', (e) => e.action === 'opened');
  const sync = example('pull_request', (e) => e.action === 'synchronize');
  opened.pull_request.head.sha = good;
  sync.pull_request.head.sha = untrusted;
  const a = await deliver('pull_request', opened);
  assert.equal(a.status, 202);
  const b = await deliver('pull_request', sync, { flavour: 'forgejo' });
  assert.equal(b.status, 202);
  const checks = (sha: string) => (api.statuses.get(sha) ?? []).filter((s) => s.context === 'kiln/check').map((s) => `${s.state}: ${s.description}`);
  await until(() => checks(good).length === 2 && checks(untrusted).length === 2, 120_000, 'both checks reported', 10);
  assert.deepEqual(checks(good), ['pending: checking', 'success: trusted and valid: no change to builds or releases']);
  assert.equal(checks(untrusted)[0], 'pending: checking');
  assert.match(checks(untrusted)[1], /^failure: refused: commit \w+ is signed by key \w+, which is not trusted/);

  const closed = example('pull_request', (e) => e.action === 'closed');
  const c = await deliver('pull_request', closed);
  assert.equal(c.status, 202);
  assert.match(String(c.body.ignored), /closed/);
  assert.deepEqual(api.invalid, []);
});
