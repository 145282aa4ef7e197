// The forge's pure parts: which statuses a pass adds, how a failed send is
// judged, what a webhook delivery asks for, and the kiln.yaml forge: section.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { sign } from '@octokit/webhooks-methods';
import { parseFile } from '../../reconciler/desired/parse-file.ts';
import { apiBaseUrl, targetUrlFor } from '../../reconciler/forge/client.ts';
import { DeliveryJournal } from '../../reconciler/forge/journal.ts';
import { finalStatus, reconcileStatusChanges, statusDescription, type ReconcileOutcome } from '../../reconciler/forge/reconcile-status.ts';
import { classifySendError, retryAfterMs } from '../../reconciler/forge/send-verdict.ts';
import { DeliveryIds } from '../../reconciler/forge/delivery-ids.ts';
import { actionOf, verifySignature } from '../../reconciler/forge/webhook-request.ts';
import type { Plan } from '../../reconciler/model.ts';
import { FORGE_DESCRIPTION_MAX, type ForgeStatusRecord } from '../../schema/forge.ts';

const NOW = new Date('2026-01-01T00:00:00Z');
const sha = (c: string) => c.repeat(40);
const plan = (p: Partial<Plan>): ReconcileOutcome => ({ kind: 'planned', plan: { actions: [], waiting: [], ...p } as Plan });
const record = (commit: string, ...states: string[]): ForgeStatusRecord => ({
  commit,
  context: 'kiln/reconcile',
  statuses: states.map((s) => ({ state: s as 'pending', description: s, at: NOW.toISOString() })),
});
const states = (records: ForgeStatusRecord[]) => Object.fromEntries(records.map((r) => [r.commit[0], r.statuses.map((s) => `${s.state}: ${s.description}`)]));

test('forge logic - final status of a pass: success when converged, failure when refused, invalid or a build failed, none while work runs', () => {
  const cases: Array<{ name: string; outcome: ReconcileOutcome; want: string | undefined }> = [
    { name: 'converged', outcome: plan({}), want: 'success: built and published as desired' },
    { name: 'actions left', outcome: plan({ actions: [{ kind: 'build' } as Plan['actions'][number]] }), want: undefined },
    { name: 'building', outcome: plan({ waiting: [{ subject: 'build x', reason: 'Building', message: 'queued' }] }), want: undefined },
    { name: 'retrying', outcome: plan({ waiting: [{ subject: 'build x', reason: 'RetryBackoff', message: 'later' }] }), want: undefined },
    {
      name: 'failed build (release waits on it)',
      outcome: plan({ waiting: [{ subject: 'build x/amd64', reason: 'BuildFailed', message: 'x failed: exit 2' }, { subject: 'release t', reason: 'AwaitingBuild', message: 'waits' }] }),
      want: 'failure: build failed: build x/amd64: x failed: exit 2',
    },
    { name: 'gate failed', outcome: plan({ waiting: [{ subject: 'release stable: x', reason: 'GateFailed', message: 'smoke failed' }] }), want: 'failure: build failed: release stable: x: smoke failed' },
    { name: 'awaiting source only', outcome: plan({ waiting: [{ subject: 'release s', reason: 'AwaitingSourceDistribution', message: 'waits' }] }), want: undefined },
    { name: 'refused', outcome: { kind: 'refused', reason: 'commit abc is not signed' }, want: 'failure: refused: commit abc is not signed' },
    { name: 'invalid', outcome: { kind: 'invalid', reason: '1 problem: a.yaml:1:2: bad' }, want: 'failure: invalid: 1 problem: a.yaml:1:2: bad' },
  ];
  for (const c of cases) {
    const s = finalStatus(c.outcome, NOW);
    assert.equal(s && `${s.state}: ${s.description}`, c.want, c.name);
  }
});

test('forge logic - each commit gets pending then exactly one final; a final record is never touched again', () => {
  const head = sha('d');
  const current = new Map([
    [sha('a'), record(sha('a'), 'pending', 'success')],
    [sha('b'), record(sha('b'), 'pending')],
  ]);
  const changes = reconcileStatusChanges(current, { head, skipped: [sha('c'), sha('a')], outcome: plan({ actions: [{ kind: 'build' } as Plan['actions'][number]] }), now: NOW });
  assert.deepEqual(states(changes), {
    b: ['pending: pending', `success: superseded by ${head.slice(0, 12)}`],
    c: ['pending: seen: waiting to be reconciled', `success: superseded by ${head.slice(0, 12)}`],
    d: ['pending: reconciling'],
  });
  // Applied again to the branch as it is now (a compare-and-set retry): nothing new for the head while it runs.
  const after = new Map([...current, ...changes.map((r): [string, ForgeStatusRecord] => [r.commit, r])]);
  assert.deepEqual(reconcileStatusChanges(after, { head, skipped: [], outcome: plan({ actions: [{ kind: 'build' } as Plan['actions'][number]] }), now: NOW }), []);
  const done = reconcileStatusChanges(after, { head, skipped: [], outcome: plan({}), now: NOW });
  assert.deepEqual(states(done), { d: ['pending: reconciling', 'success: built and published as desired'] });
  const final = new Map([...after, [head, done[0]]]);
  assert.deepEqual(reconcileStatusChanges(final, { head, skipped: [], outcome: { kind: 'refused', reason: 'x' }, now: NOW }), [], 'never contradicted');
  // Refused in its first pass: pending and failure together.
  assert.deepEqual(states(reconcileStatusChanges(new Map(), { head: sha('e'), skipped: [], outcome: { kind: 'refused', reason: 'unsigned' }, now: NOW })), { e: ['pending: reconciling', 'failure: refused: unsigned'] });
});

test('forge logic - descriptions fit the forge limit on one line', () => {
  const long = statusDescription(`a\nb ${'x'.repeat(300)}`);
  assert.equal(long.length, FORGE_DESCRIPTION_MAX);
  assert.ok(long.startsWith('a b ') && long.endsWith('…'));
});

test('forge logic - a failed send is retried on 5xx, network errors, rate limits and a refused token, dropped on other 4xx', () => {
  const now = Date.parse('2026-01-01T00:00:00Z');
  const err = (status: number | undefined, headers: Record<string, string> = {}, message = 'boom') => ({ status, message, response: { headers, data: { message } } });
  assert.deepEqual(classifySendError(err(502), now), { kind: 'retry', message: 'boom', status: 502 });
  assert.equal(classifySendError(new TypeError('fetch failed'), now).kind, 'retry');
  assert.deepEqual(classifySendError(err(429, { 'retry-after': '7' }), now), { kind: 'retry', message: 'boom', status: 429, notBeforeMs: 7000 });
  assert.deepEqual(classifySendError(err(403, { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(now / 1000 + 60) }), now), { kind: 'retry', message: 'boom', status: 403, notBeforeMs: 60_000 });
  assert.deepEqual(classifySendError(err(403, { 'retry-after': '30' }, 'secondary rate limit'), now), { kind: 'retry', message: 'secondary rate limit', status: 403, notBeforeMs: 30_000 });
  assert.deepEqual(classifySendError(err(403, {}, 'Resource not accessible by integration'), now), { kind: 'drop', message: 'Resource not accessible by integration', status: 403 });
  const token = classifySendError(err(401, {}, 'Bad credentials'), now);
  assert.equal(token.kind, 'retry', 'a refused token holds the statuses instead of dropping them all');
  assert.match(token.message, /refused the token .*Bad credentials/);
  assert.deepEqual(classifySendError(err(422, {}, 'No commit found for SHA'), now), { kind: 'drop', message: 'No commit found for SHA', status: 422 });
  assert.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
  assert.equal(retryAfterMs('soon', now), undefined);
});

test('forge logic - API base URLs for GitHub, GitHub Enterprise, Gitea and Forgejo; target URLs from the template', () => {
  assert.equal(apiBaseUrl({ type: 'github', url: 'https://github.com', repo: 'a/b' }), 'https://api.github.com');
  assert.equal(apiBaseUrl({ type: 'github', url: 'https://ghe.example/', repo: 'a/b' }), 'https://ghe.example/api/v3');
  assert.equal(apiBaseUrl({ type: 'gitea', url: 'https://gitea.example', repo: 'a/b' }), 'https://gitea.example/api/v1');
  assert.equal(apiBaseUrl({ type: 'forgejo', url: 'https://codeberg.org', repo: 'a/b', apiUrl: 'http://127.0.0.1:3000/api/v1/' }), 'http://127.0.0.1:3000/api/v1');
  assert.equal(targetUrlFor({ type: 'gitea', url: 'https://g', repo: 'a/b', targetUrl: 'https://kiln/c/{sha}?ctx={context}' }, 'abc', 'kiln/check'), 'https://kiln/c/abc?ctx=kiln%2Fcheck');
});

test('forge logic - webhook signatures: GitHub sha256=, Gitea/Forgejo bare hex; anything else refused', async () => {
  const body = '{"zen":"Keep it logically awesome."}';
  const good = await sign('s3cret', body);
  assert.equal(await verifySignature('s3cret', body, { 'x-hub-signature-256': good }), true);
  assert.equal(await verifySignature('s3cret', body, { 'x-gitea-signature': good.slice(7) }), true);
  assert.equal(await verifySignature('s3cret', body, { 'x-forgejo-signature': good.slice(7).toUpperCase() }), true);
  assert.equal(await verifySignature('other', body, { 'x-hub-signature-256': good }), false);
  assert.equal(await verifySignature('s3cret', body + ' ', { 'x-hub-signature-256': good }), false);
  assert.equal(await verifySignature('s3cret', body, { 'x-hub-signature-256': 'sha256=12' }), false);
  assert.equal(await verifySignature('s3cret', body, {}), false);
  assert.equal(await verifySignature('s3cret', '', { 'x-hub-signature-256': good }), false);
});

test('forge logic - webhook actions: push, pull_request heads, pings; unknown events ignored; malformed refused', () => {
  const h = (event: string) => ({ 'x-github-event': event, 'x-github-delivery': 'd1' });
  assert.deepEqual(actionOf(h('push'), JSON.stringify({ ref: 'refs/heads/main', after: sha('a') })), { ok: true, delivery: 'd1', action: { kind: 'push', ref: 'refs/heads/main', after: sha('a') } });
  assert.deepEqual(actionOf(h('pull_request'), JSON.stringify({ action: 'synchronized', number: 3, pull_request: { head: { sha: sha('b') } } })), { ok: true, delivery: 'd1', action: { kind: 'pull_request', head: sha('b'), number: 3 } });
  assert.equal(actionOf(h('pull_request'), JSON.stringify({ action: 'labeled', pull_request: { head: { sha: sha('b') } } })).ok, true);
  assert.deepEqual(actionOf(h('issues'), '{}'), { ok: true, delivery: 'd1', action: { kind: 'ignored', why: "event 'issues'" } });
  assert.deepEqual(actionOf(h('ping'), '{}'), { ok: true, delivery: 'd1', action: { kind: 'ping' } });
  const bad = actionOf(h('pull_request'), JSON.stringify({ action: 'opened', pull_request: { head: { sha: 'HEAD~1' } } }));
  assert.equal(bad.ok, false);
  assert.equal(!bad.ok && bad.status, 400);
  assert.equal(actionOf({}, '{}').ok, false, 'no event header');
  assert.equal(actionOf(h('push'), '[1,').ok, false, 'not JSON');
});

test('forge logic - delivery ids: a replay is seen, across a restart too; the oldest are forgotten past the bound and the file stays bounded', async () => {
  const path = join(await mkdtemp(join(tmpdir(), 'kiln-deliveries-')), 'webhook-deliveries');
  const ids = await DeliveryIds.open(path, 2);
  assert.equal(ids.has('a'), false);
  await ids.add('a');
  assert.equal(ids.has('a'), true);
  await ids.add('b');
  await ids.close();
  const reopened = await DeliveryIds.open(path, 2);
  assert.equal(reopened.has('a'), true, 'remembered across a restart');
  await reopened.add('c');
  assert.equal(reopened.has('a'), false, 'forgotten after two newer ones');
  for (const id of ['d', 'e', 'f', 'g']) await reopened.add(id);
  await reopened.close();
  const lines = (await readFile(path, 'utf8')).split('\n').filter(Boolean);
  assert.ok(lines.length <= 4, `compacted to at most twice the bound, got ${lines.length} lines`);
  // A torn last line (killed mid-write) is skipped, the rest kept.
  await writeFile(path, (await readFile(path, 'utf8')) + '\n"h');
  const torn = await DeliveryIds.open(path, 2);
  assert.deepEqual(['f', 'g', 'h'].map((id) => torn.has(id)), [true, true, false]);
  await torn.close();
  const memory = await DeliveryIds.open(undefined, 2);
  await memory.add('x');
  assert.equal(memory.has('x'), true);
});

test('forge logic - the delivery journal survives a torn last line', async () => {
  const path = join(await mkdtemp(join(tmpdir(), 'kiln-journal-')), 'journal.jsonl');
  const j = await DeliveryJournal.open(path);
  assert.equal(j.fresh, true);
  await j.mark('x#0', 'attempt');
  await j.mark('x#0', 'sent');
  await j.mark('x#1', 'attempt');
  await j.close();
  await writeFile(path, (await readFile(path, 'utf8')) + '\n{"id":"x#1","pha');
  const again = await DeliveryJournal.open(path);
  assert.equal(again.fresh, false);
  assert.equal(again.phase('x#0'), 'sent');
  assert.equal(again.phase('x#1'), 'attempt', 'the torn line is skipped: the send counts as attempted, so the forge is asked');
  await again.mark('x#1', 'sent');
  await again.close();
  assert.equal((await DeliveryJournal.open(path)).phase('x#1'), 'sent');
});

test('forge logic - kiln.yaml forge: errors name the line and field', () => {
  const diag = (text: string) => parseFile('kiln.yaml', 'config', Buffer.from(text)).diagnostics.map((d) => `${d.file}:${d.line}:${d.col} ${d.message}`);
  assert.deepEqual(diag('forge:\n  type: gitea\n  url: https://gitea.example\n  repo: acme/meta\n'), []);
  const [wrongType] = diag('forge:\n  type: gitlab\n  url: https://gitlab.example\n  repo: acme/meta\n');
  assert.match(wrongType, /^kiln\.yaml:2:\d+ .*(github|gitea|forgejo)/);
  const [noRepo] = diag('forge:\n  type: github\n  url: https://github.com\n');
  assert.match(noRepo, /^kiln\.yaml:\d+:\d+ forge: missing required key 'repo'/);
  const [badUrl] = diag('forge:\n  type: github\n  url: github.com\n  repo: a/b\n');
  assert.match(badUrl, /^kiln\.yaml:3:\d+ /);
});
