// The HTTP API against the real service: nats-server, the reconciler in watch
// mode, an agent (a runner that needs no container), kiln/status in git.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { Kvm } from '@nats-io/kv';
import parsePrometheus from 'parse-prometheus-text-format';
import { ENDPOINTS, type BuildList } from '../../schema/api.ts';
import { BUCKETS } from '../../schema/nats.ts';
import { STATUS_BRANCH } from '../../schema/status.ts';
import { revokeToken } from '../../reconciler/http/tokens-file.ts';
import { git } from '../helpers/git.ts';
import { followState, startService, until, type Service } from '../helpers/kiln-service.ts';
import { openSse } from '../helpers/sse-client.ts';

let svc: Service;
const ajv = new Ajv2020({ strict: false, allErrors: true });

before(async () => {
  svc = await startService(['alpha', 'beta', 'gamma', 'live'], { hold: ['live'] });
});
after(async () => {
  await svc?.close();
});

async function api(path: string, init: RequestInit = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const res = await fetch(`${svc.url}${path}`, init);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* text */
  }
  return { status: res.status, body, headers: res.headers };
}

function assertSchema(schema: object, body: unknown, what: string): void {
  const v = ajv.compile(schema);
  assert.ok(v(body), `${what} does not match its schema: ${ajv.errorsText(v.errors)}`);
}

const succeeded = async (n: number) => {
  const r = await api('/api/v1/builds?state=succeeded');
  return r.body.total >= n ? (r.body as BuildList) : undefined;
};

test('http api - builds: list with filters and cursor paging, one build with its record and artifacts', async () => {
  await until(() => succeeded(3), 60_000, 'alpha, beta and gamma built');
  const all = await api('/api/v1/builds');
  assert.equal(all.status, 200);
  assertSchema(ENDPOINTS.builds.response, all.body, 'GET /builds');
  assert.equal(all.body.total, 4);
  assert.equal(all.body.statusCommit, await git(svc.repoDir, 'rev-parse', STATUS_BRANCH));

  const alpha = await api('/api/v1/builds?package=alpha');
  assert.deepEqual(alpha.body.builds.map((b: { package: string }) => b.package), ['alpha']);
  assert.equal(alpha.body.builds[0].state, 'succeeded');
  assert.equal(alpha.body.builds[0].agent, 'test-agent');

  // Paging: three pages of one build... covering every build exactly once.
  const seen: string[] = [];
  let cursor: string | null = null;
  do {
    const page = await api(`/api/v1/builds?limit=1${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(page.status, 200);
    seen.push(...page.body.builds.map((b: { key: string }) => b.key));
    cursor = page.body.nextCursor;
  } while (cursor);
  assert.deepEqual([...seen].sort(), all.body.builds.map((b: { key: string }) => b.key).sort());
  assert.equal(new Set(seen).size, 4);

  const key = alpha.body.builds[0].key as string;
  const one = await api(`/api/v1/builds/${key.slice(0, 10)}`);
  assert.equal(one.status, 200);
  assertSchema(ENDPOINTS.build.response, one.body, 'GET /builds/:key');
  assert.equal(one.body.record.key, key);
  assert.equal(one.body.artifacts.length, 1);
  assert.equal(one.body.artifacts[0].signed, true, 'the signature is on kiln/status');

  const log = await api(`/api/v1/builds/${key}/log`);
  assert.equal(log.status, 200);
  assert.match(log.body, /building alpha 1.0/);
});

test('http api - distributions, plan, checks and audit trail answer with their schemas', async () => {
  for (const [path, schema] of [
    ['/api/v1/distributions', ENDPOINTS.distributions.response],
    ['/api/v1/plan', ENDPOINTS.plan.response],
    ['/api/v1/checks', ENDPOINTS.checks.response],
    ['/api/v1/audit?limit=2', ENDPOINTS.audit.response],
    ['/api/v1/agents', ENDPOINTS.agents.response],
  ] as const) {
    const r = await api(path);
    assert.equal(r.status, 200, path);
    assertSchema(schema, r.body, path);
  }
  const audit = await api('/api/v1/audit?limit=1');
  assert.equal(audit.body.commits[0].commit, await git(svc.repoDir, 'rev-parse', STATUS_BRANCH));
  assert.ok(audit.body.commits[0].trailers['Kiln-Desired'], 'status commits carry Kiln-Desired');
  assert.ok(audit.body.nextCursor, 'more than one status commit');
  const older = await api(`/api/v1/audit?limit=1&cursor=${audit.body.nextCursor}`);
  assert.equal(older.status, 200, JSON.stringify(older.body));
  assert.equal(older.body.commits[0].commit, audit.body.nextCursor);
});

test('http api - bad input: unknown routes 404, malformed queries 400 naming the parameter, traversal refused', async () => {
  const cases: Array<[string, number, string | undefined]> = [
    ['/api/v1/nothing-here', 404, undefined],
    ['/api/v2/builds', 404, undefined],
    ['/api/v1/builds?limit=abc', 400, 'limit'],
    ['/api/v1/builds?limit=0', 400, 'limit'],
    ['/api/v1/builds?state=exploded', 400, 'state'],
    ['/api/v1/builds?colour=red', 400, 'colour'],
    ['/api/v1/builds?cursor=ffffffffffffffff', 400, 'cursor'],
    ['/api/v1/builds?package=../../etc', 400, 'package'],
    ['/api/v1/audit?cursor=HEAD', 400, 'cursor'],
    ['/api/v1/audit?cursor=--output=x', 400, 'cursor'],
    [`/api/v1/audit?cursor=${'0'.repeat(40)}`, 400, 'cursor'],
    ['/api/v1/builds/not-hex', 400, 'key'],
    ['/api/v1/builds/..%2f..%2fetc', 400, 'key'],
    ['/api/v1/checks/..%2f..', 400, 'commit'],
  ];
  for (const [path, status, parameter] of cases) {
    const r = await api(path);
    assert.equal(r.status, status, `${path}: ${JSON.stringify(r.body)}`);
    assert.equal(typeof r.body.error?.message, 'string', `${path} answers a JSON error`);
    if (parameter) assert.equal(r.body.error.parameter, parameter, path);
  }
  // Repos keep the repo server's rules under /repos/.
  for (const path of ['/repos/../etc/passwd', '/repos/%2e%2e/%2e%2e/etc/passwd', '/repos/a/%2e%2e/%2e%2e/x', '/repos/.kiln/secret', '/repos/a%2fb', '/repos/a%00b', '/ui/../app.ts', '/ui/%2e%2e/app.ts']) {
    const r = await api(path);
    assert.ok(r.status === 400 || r.status === 404, `${path} refused (${r.status})`);
    assert.doesNotMatch(String(r.body), /root:|import /, path);
  }
});

test('http api - write endpoints need a token whose role allows it; refused requests change nothing', async () => {
  const list = await api('/api/v1/builds?package=alpha');
  const key = list.body.builds[0].key as string;
  const head = await git(svc.repoDir, 'rev-parse', STATUS_BRANCH);
  const control = await new Kvm(svc.nc).open(BUCKETS.control);

  const none = await api(`/api/v1/agents/test-agent/drain`, { method: 'POST' });
  assert.equal(none.status, 401);
  assert.equal(none.body.error.code, 'KILN_UNAUTHORIZED');
  assert.match(none.headers.get('www-authenticate') ?? '', /Bearer/);
  const wrong = await api(`/api/v1/builds/${key}/retry`, { method: 'POST', headers: { Authorization: 'Bearer kiln_not-a-real-token' } });
  assert.equal(wrong.status, 401);
  const viewer = await api(`/api/v1/agents/test-agent/drain`, { method: 'POST', headers: { Authorization: `Bearer ${svc.tokens.viewer}` } });
  assert.equal(viewer.status, 403);
  assert.equal(viewer.body.error.code, 'KILN_FORBIDDEN');
  assert.equal(await control.get('drain.test-agent').then((e) => e?.operation ?? null), null, 'no drain request written');
  assert.equal(await git(svc.repoDir, 'rev-parse', STATUS_BRANCH), head, 'kiln/status untouched');

  // An operator may retry: a succeeded build has nothing to retry (409, nothing committed).
  const retry = await api(`/api/v1/builds/${key}/retry`, { method: 'POST', headers: { Authorization: `Bearer ${svc.tokens.operator}` } });
  assert.equal(retry.status, 409);
  assert.equal(retry.body.error.code, 'KILN_NOT_RETRYABLE');
  assert.equal(await git(svc.repoDir, 'rev-parse', STATUS_BRANCH), head, 'nothing committed');

  const unknown = await api(`/api/v1/agents/nobody/drain`, { method: 'POST', headers: { Authorization: `Bearer ${svc.tokens.operator}` } });
  assert.equal(unknown.status, 404);

  // Revoked: refused at once, without a restart.
  await revokeToken(svc.tokensFile, 'viewer');
  const revoked = await api(`/api/v1/agents/test-agent/drain`, { method: 'POST', headers: { Authorization: `Bearer ${svc.tokens.viewer}` } });
  assert.equal(revoked.status, 401);
});

test('http api - live log over SSE follows the agent line by line; a client that goes away leaves no subscription', async () => {
  const live = await until(async () => (await api('/api/v1/builds?package=live&state=running')).body.builds[0], 30_000, 'the held build running');
  const baseline = await followState(svc.nats, 'kiln-http');
  const followers = [openSse(`${svc.url}/api/v1/builds/${live.key}/log/stream`), openSse(`${svc.url}/api/v1/builds/${live.key}/log/stream`)];
  for (const f of followers) assert.equal(await f.status, 200);
  const data = (f: (typeof followers)[number]) => f.events.filter((e) => e.event === 'message').map((e) => e.data);
  await until(() => followers.every((f) => data(f).includes('before release line 3')), 20_000, 'lines printed so far');
  assert.ok(followers.every((f) => !data(f).includes('after release line 1')), 'the build is still held');
  assert.deepEqual(await followState(svc.nats, 'kiln-http'), { subscriptions: baseline.subscriptions + 2, consumers: baseline.consumers + 2 }, 'one subscription and one consumer per follower');

  // One follower goes away: its subscription and consumer go with it.
  followers[1].close();
  const one = { subscriptions: baseline.subscriptions + 1, consumers: baseline.consumers + 1 };
  await until(async () => JSON.stringify(await followState(svc.nats, 'kiln-http')) === JSON.stringify(one), 10_000, 'one follower left');

  svc.runner.release('live');
  await followers[0].ended;
  const lines = data(followers[0]);
  assert.match(lines[0], /^kiln: build [0-9a-f]{64} attempt 1 .* of live 1.0 on test-agent$/, 'the agent\'s own first line');
  assert.match(lines[lines.length - 1], /^kiln: succeeded in /, 'the agent\'s own last line');
  assert.deepEqual(lines.slice(1, -1), ['building live 1.0', 'before release line 1', 'before release line 2', 'before release line 3', 'after release line 1', 'after release line 2']);
  assert.deepEqual(followers[0].events.filter((e) => e.event !== 'message').map((e) => `${e.event}:${e.data}`), ['attempt:1', 'end:succeeded']);
  await until(async () => JSON.stringify(await followState(svc.nats, 'kiln-http')) === JSON.stringify(baseline), 10_000, 'no follower left');
});

test('metrics - /metrics parses as Prometheus text; counters move when a build completes', async () => {
  const scrape = async () => {
    const res = await fetch(`${svc.url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/plain; version=0.0.4/);
    return parsePrometheus(await res.text());
  };
  const value = (fams: ReturnType<typeof parsePrometheus>, name: string, labels: Record<string, string> = {}) =>
    fams.find((f) => f.name === name)?.metrics.filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v)).reduce((n, m) => n + Number(m.value ?? m.buckets?.['+Inf'] ?? 0), 0) ?? 0;
  const before = await scrape();
  for (const name of ['kiln_builds_total', 'kiln_queue_depth', 'kiln_queue_oldest_job_age_seconds', 'kiln_pass_step_duration_seconds', 'kiln_publish_duration_seconds', 'kiln_results_waiting', 'kiln_agents', 'kiln_last_successful_pass_timestamp_seconds', 'kiln_status_push_failures_total', 'kiln_webhook_deliveries_total']) {
    assert.ok(before.some((f) => f.name === name), `${name} is exported`);
  }
  assert.equal(value(before, 'kiln_agents', { pool: 'deb', arch: 'amd64' }), 1);
  const built = value(before, 'kiln_builds_total', { outcome: 'succeeded', pool: 'deb', arch: 'amd64' });
  assert.ok(built >= 3);

  // A new package: one more build completes.
  const { commitFiles } = await import('../helpers/git.ts');
  const src = (await api('/api/v1/builds?package=alpha')).body.builds[0];
  const record = (await api(`/api/v1/builds/${src.key}`)).body.record;
  await commitFiles(svc.repoDir, { 'packages/delta.yaml': `name: delta\nversion: '1.0'\nsource:\n  git: ${record.inputs.source.url}\n  ref: main\nformat: deb\narchitectures: [amd64]\n` }, 'add delta');
  await until(async () => value(await scrape(), 'kiln_builds_total', { outcome: 'succeeded', pool: 'deb', arch: 'amd64' }) === built + 1, 60_000, 'kiln_builds_total to count delta');
  const afterScrape = await scrape();
  // (the parser keeps a histogram's buckets, not its labels: the +Inf buckets of every step add up)
  assert.ok(value(afterScrape, 'kiln_pass_step_duration_seconds') > value(before, 'kiln_pass_step_duration_seconds'), 'pass steps observed');
  assert.ok(value(afterScrape, 'kiln_last_successful_pass_timestamp_seconds') > 0);
  assert.equal(value(afterScrape, 'kiln_queue_depth', { pool: 'deb', arch: 'amd64' }), 0);
});

test('http api - with public reads off, reads need a token too (any role)', async () => {
  const { startHttpServer } = await import('../../reconciler/http/server.ts');
  const { quietLog } = await import('../helpers/kiln-service.ts');
  const closed = await startHttpServer({ repoDir: svc.repoDir, tokensFile: svc.tokensFile, publicRead: false, log: quietLog });
  try {
    const anon = await fetch(`${closed.url}/api/v1/builds`);
    assert.equal(anon.status, 401);
    assert.equal(((await anon.json()) as { error: { code: string } }).error.code, 'KILN_UNAUTHORIZED');
    const ops = await fetch(`${closed.url}/api/v1/builds`, { headers: { Authorization: `Bearer ${svc.tokens.operator}` } });
    assert.equal(ops.status, 200);
    assert.equal(((await ops.json()) as { total: number }).total >= 4, true);
  } finally {
    await closed.close();
  }
});
