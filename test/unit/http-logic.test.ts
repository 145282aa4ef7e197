// Pure parts of the HTTP service: paging, SSE framing, tokens, audit entries,
// promotion state, prerequisites.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseEntry } from '../../reconciler/http/audit-log.ts';
import { BadParameterError, pageOf, sortNewestFirst, summarize } from '../../reconciler/http/build-summary.ts';
import { distributionView } from '../../reconciler/http/distributions-view.ts';
import { SseLines } from '../../reconciler/http/sse-lines.ts';
import { addToken, matchToken, readTokenFile, revokeToken, roleAllows } from '../../reconciler/http/tokens-file.ts';
import { emptyObserved, type DesiredDistribution } from '../../reconciler/model.ts';
import { checkPrerequisites } from '../../reconciler/up/prerequisites.ts';
import type { BuildRecord } from '../../schema/status.ts';

function record(i: number, state: BuildRecord['state'], pkg = `p${i}`): BuildRecord {
  const at = new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString();
  return {
    key: i.toString(16).padStart(64, '0'),
    inputs: { package: pkg, version: '1.0', source: { url: 'u', commit: 'c' }, recipe: { format: 'deb', rebuild: 0 }, image: 'i', arch: i % 2 ? 'arm64' : 'amd64', target: 't' },
    pool: 'deb',
    state,
    desiredCommit: 'd'.repeat(40),
    attempts: [{ n: 1, dispatchedAt: at, ...(state !== 'queued' ? { agent: 'a1', startedAt: at, finishedAt: new Date(Date.parse(at) + 2500).toISOString(), outcome: state } : {}) }],
  } as BuildRecord;
}

test('http logic - builds newest first, filtered, paged by cursor without gaps or repeats', () => {
  const sorted = sortNewestFirst(Array.from({ length: 25 }, (_, i) => record(i, i % 3 === 0 ? 'failed' : 'succeeded')));
  assert.equal(sorted[0].key, record(24, 'succeeded').key, 'newest first');
  const position = new Map(sorted.map((r, i) => [r.key, i]));
  const keys: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const p = pageOf(sorted, position, { limit: 10, state: 'succeeded', ...(cursor ? { cursor } : {}) }, new Map(), 0);
    assert.equal(p.total, 16);
    keys.push(...p.builds.map((b) => b.key));
    cursor = p.nextCursor ?? undefined;
    pages++;
  } while (cursor);
  assert.equal(pages, 2);
  assert.equal(new Set(keys).size, 16);
  assert.throws(() => pageOf(sorted, position, { limit: 50, cursor: 'f'.repeat(64) }, new Map(), 0), (e: unknown) => e instanceof BadParameterError && e.parameter === 'cursor');
});

test('http logic - a queued build an agent reports is running, with the time so far', () => {
  const r = record(5, 'queued');
  const now = Date.parse(r.attempts[0].dispatchedAt) + 4000;
  assert.deepEqual([summarize(r, 'agent-7', now).state, summarize(r, 'agent-7', now).agent, summarize(r, 'agent-7', now).durationSeconds], ['running', 'agent-7', 4]);
  assert.equal(summarize(r, undefined, now).state, 'queued');
  assert.equal(summarize(record(6, 'succeeded'), undefined, now).durationSeconds, 2.5);
  const sorted = [r, record(6, 'queued')];
  const page = pageOf(sorted, new Map(sorted.map((x, i) => [x.key, i])), { limit: 50, state: 'running' }, new Map([[r.key, 'agent-7']]), now);
  assert.deepEqual(page.builds.map((b) => b.key), [r.key]);
});

test('http logic - SSE: one event per line, a line split across chunks held until it ends', () => {
  const s = new SseLines();
  assert.equal(s.push(Buffer.from('one\ntw')), 'data: one\n\n');
  assert.equal(s.push(Buffer.from('o\r\nthree')), 'data: two\n\n');
  assert.equal(s.push(Buffer.from([0xe2, 0x82])), '', 'half a UTF-8 character waits');
  assert.equal(s.push(Buffer.from([0xac, 0x0a])), 'data: three€\n\n');
  assert.equal(s.flush(), '');
});

test('http logic - tokens: kept hashed, matched timing-safely, roles ordered, revocable', async () => {
  const file = join(await mkdtemp(join(tmpdir(), 'kiln-tokens-')), 'tokens.json');
  const { token, entry } = await addToken(file, 'ci', 'operator');
  assert.match(token, /^kiln_[A-Za-z0-9_-]{43}$/);
  const text = await readFile(file, 'utf8');
  assert.ok(!text.includes(token) && !text.includes(token.slice(5)), 'the secret is not in the file');
  assert.equal((await stat(file)).mode & 0o777, 0o600);
  const { tokens } = await readTokenFile(file);
  assert.equal(matchToken(tokens, token)?.id, entry.id);
  assert.equal(matchToken(tokens, token + 'x'), undefined);
  assert.ok(roleAllows('admin', 'operator') && roleAllows('operator', 'viewer') && !roleAllows('viewer', 'operator'));
  await assert.rejects(addToken(file, 'ci', 'viewer'), /exists/);
  await revokeToken(file, entry.id);
  assert.equal(matchToken((await readTokenFile(file)).tokens, token), undefined);
  await assert.rejects(revokeToken(file, 'ci'), /no token/);
});

test('http logic - audit entries keep every trailer', () => {
  const e = parseEntry(['a'.repeat(40), 'kiln: built x', '2026-01-01T00:00:00Z', 'K <k@x>', 'Kiln-Desired: d1\nKiln-Builds: 2', 'Kiln-Desired: d1\nKiln-Builds: 2\n'].join('\x1f'));
  assert.deepEqual(e.trailers, { 'Kiln-Desired': ['d1'], 'Kiln-Builds': ['2'] });
  assert.equal(e.subject, 'kiln: built x');
  assert.equal(e.body, undefined, 'a body that is only trailers is not repeated');
  assert.equal(parseEntry(['b'.repeat(40), 's', 'd', 'a', 'why it happened\n\nKiln-Desired: d1', 'Kiln-Desired: d1\n'].join('\x1f')).body, 'why it happened');
});

test('http logic - promotion state: published, gate passed, gate failed, waiting', () => {
  const observed = emptyObserved();
  const pkg = (name: string) => ({ name, version: '1.0', builds: {} });
  observed.releases.set('testing', { distribution: 'testing', desiredCommit: 'd', packages: [pkg('a'), pkg('b'), pkg('c'), pkg('d')] });
  observed.releases.set('stable', { distribution: 'stable', desiredCommit: 'd', packages: [pkg('a')] });
  observed.gates.set('stable/b/1.0', { distribution: 'stable', from: 'testing', package: 'b', version: '1.0', verdict: 'passed', at: 't' });
  observed.gates.set('stable/c/1.0', { distribution: 'stable', from: 'testing', package: 'c', version: '1.0', verdict: 'failed', at: 't' });
  const stable = { name: 'stable', suite: 'stable', promoteFrom: 'testing', gate: 'install-smoke' } as DesiredDistribution;
  assert.deepEqual(distributionView(stable, observed).promotions.map((p) => `${p.package}:${p.state}`), ['a:published', 'b:gate-passed', 'c:gate-failed', 'd:waiting-for-gate']);
});

test('api distributions - a package the source publishes but the desired state does not release here is no promotion candidate', () => {
  const observed = emptyObserved();
  const pkg = (name: string) => ({ name, version: '1.0', builds: {} });
  observed.releases.set('testing', { distribution: 'testing', desiredCommit: 'd', packages: [pkg('hello'), pkg('libonly')] });
  const stable = { name: 'stable', suite: 'stable', promoteFrom: 'testing', gate: 'install-smoke' } as DesiredDistribution;
  const view = distributionView(stable, observed, (name) => name === 'hello');
  assert.deepEqual(view.promotions.map((p) => `${p.package}:${p.state}`), ['hello:waiting-for-gate']);
});

test('kiln up - a missing nats-server is named with the command that installs it', async () => {
  const found = await checkPrerequisites({ docker: false, natsServer: 'nats-server-that-is-not-installed' });
  assert.match(found.find((p) => p.name === 'nats-server')?.problem ?? '', /apt-get install nats-server/);
});
