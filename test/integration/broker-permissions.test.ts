// Broker credentials per role, against a real nats-server started with the
// config `kiln nats-config` writes: a pool's agent may pull only its own
// pool's jobs, may not publish jobs or touch the reconciler lease, and the
// whole loop (reconciler + agent, each with its own credentials) still works.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { Agent } from '../../agents/agent.ts';
import { NoopRunner } from '../../agents/noop-runner.ts';
import { readCredentials } from '../../reconciler/broker/credentials.ts';
import { connectNats } from '../../reconciler/nats/connect.ts';
import { ensureTopology } from '../../reconciler/nats/topology.ts';
import { openReconciler } from '../../reconciler/reconciler-setup.ts';
import { generateKey } from '../../reconciler/signing/signer.ts';
import { readObserved } from '../../reconciler/status/reader.ts';
import type { BrokerCredentials } from '../../schema/broker.ts';
import { BUCKETS, buildConsumerName, LEASE_KEY, STREAMS, SUBJECTS } from '../../schema/nats.ts';
import { debSource, makeDebRepo } from '../fixtures/deb-source.ts';
import { runKiln } from '../helpers/cli.ts';
import { makeRepo } from '../helpers/git.ts';
import { freePort, startNats, type NatsServer } from '../helpers/nats.ts';
import { quiet, until } from './reliability-harness.ts';

const run = promisify(execFile);
const TOPOLOGY = { ackWaitMs: 3000, maxDeliver: 3, resultsAckWaitMs: 2000, agentTtlMs: 10_000 };

const kiln = (...args: string[]) => runKiln(args);

const KILN_YAML = `trust:\n  keys: []\n  requireSignedCommits: false\npools:\n  deb:\n    architectures: [amd64]\ndefaults:\n  pool: deb\n  image: kiln/bookworm-debhelper\n  maxAttempts: 3\n`;

/** A permissions refusal from the server (nats.js names it in the error or its cause). */
async function refused(p: Promise<unknown>, what: string): Promise<void> {
  await assert.rejects(p, (e: Error) => {
    const text = `${e.message} ${(e as { cause?: Error }).cause?.message ?? ''}`;
    assert.match(text, /permission/i, `${what}: expected a permissions violation, got: ${text}`);
    return true;
  }, what);
}

describe('broker permissions', () => {
  let tmp: string;
  let server: NatsServer;
  let creds: Record<'reconciler' | 'agentDeb' | 'agentOther', BrokerCredentials>;
  let admin: NatsConnection;
  let agentNc: NatsConnection;

  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'kiln-broker-'));
    const port = await freePort();
    const conf = join(tmp, 'kiln.conf');
    const made = await kiln('nats-config', '--out', conf, '--pools', 'deb:amd64', '--pools', 'other:amd64', '--listen', `127.0.0.1:${port}`, '--store-dir', join(tmp, 'store'), '--json');
    assert.equal(made.code, 0, made.stderr);
    // The helper's flags set the port and store; the generated accounts, users and permissions apply.
    server = await startNats({ config: await readFile(conf, 'utf8'), configHasStore: true });
    const dir = join(tmp, 'credentials');
    creds = {
      reconciler: await readCredentials(join(dir, 'reconciler.creds')),
      agentDeb: await readCredentials(join(dir, 'agent-deb.creds')),
      agentOther: await readCredentials(join(dir, 'agent-other.creds')),
    };
    admin = await connectNats(server.url, { name: 'test-reconciler', log: quiet, credentials: creds.reconciler });
    await ensureTopology(admin, { pools: { deb: { architectures: ['amd64'] }, other: { architectures: ['amd64'] } }, ...TOPOLOGY });
    agentNc = await connectNats(server.url, { name: 'test-agent-deb', log: quiet, credentials: creds.agentDeb });
  });
  after(async () => {
    await agentNc?.close();
    await admin?.close();
    await server?.dispose();
    await rm(tmp, { recursive: true, force: true });
  });

  test('broker permissions - nats-config writes 0600 credentials and keeps them when re-run', async () => {
    const file = join(tmp, 'credentials', 'agent-deb.creds');
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    const again = await kiln('nats-config', '--out', join(tmp, 'again.conf'), '--credentials-dir', join(tmp, 'credentials'), '--pools', 'deb:amd64', '--json');
    assert.equal(again.code, 0, again.stderr);
    const data = JSON.parse(again.stdout);
    assert.deepEqual(data.users.map((u: { user: string; reused: boolean }) => [u.user, u.reused]), [['reconciler', true], ['agent-deb', true]]);
    assert.equal((await readCredentials(file)).nkey, creds.agentDeb.nkey, 'same key as before');
  });

  test('broker permissions - no credentials, or a wrong key, is refused at connect', async () => {
    await assert.rejects(connectNats(server.url, { name: 'anon', log: quiet }), /Authorization|authentication/i);
    const stranger = { user: 'agent-deb', nkey: 'SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4' };
    await assert.rejects(connectNats(server.url, { name: 'stranger', log: quiet, credentials: stranger }), /Authorization|authentication/i);
  });

  test('broker permissions - a deb agent cannot pull, inspect or sniff pool other\'s jobs', async () => {
    const js = jetstream(admin);
    const job = JSON.stringify({ marker: 'other-pool-secret' });
    await js.publish(SUBJECTS.build('other', 'amd64'), job, { msgID: 'other-job-1' });
    const agentJs = jetstream(agentNc);
    await refused(agentJs.consumers.get(STREAMS.builds, buildConsumerName('other', 'amd64')), 'consumer info of pool other');
    await refused(agentNc.request(`$JS.API.CONSUMER.MSG.NEXT.${STREAMS.builds}.${buildConsumerName('other', 'amd64')}`, JSON.stringify({ batch: 1, expires: 1e9 }), { timeout: 2000 }), 'pull from pool other');
    await refused(agentNc.request(`$JS.API.STREAM.MSG.GET.${STREAMS.builds}`, JSON.stringify({ seq: 1 }), { timeout: 2000 }), 'read the jobs stream directly');
    // Subscriptions outside its own inbox are refused: not the job subjects, not other clients' inboxes.
    for (const subject of [SUBJECTS.buildsAll, '_INBOX.>', '>']) {
      const sub = agentNc.subscribe(subject);
      await assert.rejects((async () => {
        for await (const _ of sub) break;
      })(), /permission/i, `subscribe ${subject}`);
    }
    const info = await (await jetstreamManager(admin)).consumers.info(STREAMS.builds, buildConsumerName('other', 'amd64'));
    assert.equal(info.num_pending, 1, 'the other pool\'s job is still queued, untouched');
    assert.equal(info.num_ack_pending, 0);
    // Its own pool's consumer is reachable.
    const own = await agentJs.consumers.get(STREAMS.builds, buildConsumerName('deb', 'amd64'));
    assert.equal((await own.info(true)).name, buildConsumerName('deb', 'amd64'));
  });

  test('broker permissions - a deb agent cannot publish jobs or touch the reconciler lease', async () => {
    const jsm = await jetstreamManager(admin);
    const before = (await jsm.streams.info(STREAMS.builds)).state.messages;
    const agentJs = jetstream(agentNc);
    await refused(agentJs.publish(SUBJECTS.build('deb', 'amd64'), '{}', { msgID: 'forged-job' }), 'publish a job to its own pool');
    await refused(agentJs.publish(SUBJECTS.build('other', 'amd64'), '{}'), 'publish a job to pool other');
    assert.equal((await jsm.streams.info(STREAMS.builds)).state.messages, before, 'no job was added');

    const lease = await new Kvm(admin).open(BUCKETS.lease);
    await lease.put(LEASE_KEY, JSON.stringify({ holder: 'the-reconciler', expiresAt: new Date(Date.now() + 60_000).toISOString() }));
    const agentLease = await new Kvm(agentNc).open(BUCKETS.lease).catch(() => undefined);
    if (agentLease) {
      // Opening may be lazy; every use is refused.
      await refused(agentLease.get(LEASE_KEY), 'read the lease');
      await refused(agentLease.put(LEASE_KEY, '{}'), 'write the lease');
      await refused(agentLease.delete(LEASE_KEY), 'delete the lease');
    }
    await refused(agentJs.publish(`$KV.${BUCKETS.lease}.${LEASE_KEY}`, JSON.stringify({ holder: 'agent', expiresAt: new Date(0).toISOString() })), 'overwrite the lease');
    await refused(agentNc.request(`$JS.API.STREAM.PURGE.KV_${BUCKETS.lease}`, '{}', { timeout: 2000 }), 'purge the lease bucket');
    assert.equal((await lease.get(LEASE_KEY))?.json<{ holder: string }>().holder, 'the-reconciler', 'the lease is unchanged');
  });

  test('broker permissions - reconciler and a deb agent with their own credentials build and record a package', async () => {
    const src = await makeDebRepo(debSource({ name: 'hello' }));
    const repo = await makeRepo({
      'kiln.yaml': KILN_YAML,
      'packages/hello.yaml': `name: hello\nversion: '1.0'\nsource:\n  git: ${src.dir}\n  ref: main\nformat: deb\narchitectures: [amd64]\n`,
    });
    const key = await generateKey({ name: 'Kiln Test Reconciler', email: 'reconciler@kiln.invalid' });
    const keyFile = join(tmp, 'signing.key');
    await writeFile(keyFile, key.privateKeyArmored, { mode: 0o600 });
    const rec = await openReconciler({
      repoDir: repo.dir, natsUrl: server.url, natsCredentials: creds.reconciler, signingKey: { keyFile },
      artifactsDir: join(tmp, 'artifacts'), topology: TOPOLOGY, log: quiet,
      policy: { retry: { backoff: { baseMs: 300, capMs: 1000, jitter: 0 } }, quietMaxMs: 0 },
    });
    const agent = new Agent({ nc: agentNc, pool: 'deb', arch: 'amd64', workDir: tmp, log: quiet, id: 'deb-agent-1', heartbeatMs: 500, runner: new NoopRunner(), pullExpiresMs: 1000 });
    try {
      await agent.start();
      const agents = await new Kvm(admin).open(BUCKETS.agents);
      await until(async () => (await agents.get('deb-agent-1'))?.operation === 'PUT', 5000, 'the heartbeat in the registry');
      const listed = await runKiln(['agents', '--nats', server.url, '--json'], { KILN_NATS_CREDENTIALS: join(tmp, 'credentials', 'reconciler.creds') });
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual(JSON.parse(listed.stdout).agents.map((a: { id: string }) => a.id), ['deb-agent-1'], 'kiln agents with $KILN_NATS_CREDENTIALS');
      const record = await until(async () => {
        await rec.runPass();
        const builds = (await readObserved({ dir: repo.dir, cache: {} })).state.builds;
        return [...builds.values()].find((b) => b.inputs.package === 'hello' && b.state === 'succeeded');
      }, 30_000, 'hello built and recorded');
      assert.equal(record.attempts.at(-1)?.agent, 'deb-agent-1');
      assert.equal(record.artifacts?.length, 1);
      assert.ok(record.log?.sha256, 'the log was stored in the object store');
    } finally {
      await agent.close({ hard: true });
      await rec.close();
    }
    // The pool 'other' job from the refusal test was never taken by the deb agent.
    const info = await (await jetstreamManager(admin)).consumers.info(STREAMS.builds, buildConsumerName('other', 'amd64'));
    assert.equal(info.num_pending, 1);
  });
});

describe('broker TLS and passwords', () => {
  let tmp: string;
  before(async () => {
    tmp = await mkdtemp(join(tmpdir(), 'kiln-broker-tls-'));
  });
  after(() => rm(tmp, { recursive: true, force: true }));

  test('broker permissions - with --tls-cert the server requires TLS; the credentials carry the certificate to trust', async () => {
    const cert = join(tmp, 'broker.pem');
    const key = join(tmp, 'broker.key');
    await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert]);
    const port = await freePort();
    const conf = join(tmp, 'kiln.conf');
    const made = await kiln('nats-config', '--out', conf, '--pools', 'deb:amd64', '--listen', `127.0.0.1:${port}`, '--store-dir', join(tmp, 'store'), '--tls-cert', cert, '--tls-key', key);
    assert.equal(made.code, 0, made.stderr);
    assert.match(made.stdout, /TLS required/);
    const server = await startNats({ config: await readFile(conf, 'utf8'), configHasStore: true });
    try {
      const rec = await readCredentials(join(tmp, 'credentials', 'reconciler.creds'));
      const agent = await readCredentials(join(tmp, 'credentials', 'agent-deb.creds'));
      assert.equal(agent.ca, await readFile(cert, 'utf8'));
      const admin = await connectNats(server.url, { name: 'rec', log: quiet, credentials: rec });
      await ensureTopology(admin, { pools: { deb: { architectures: ['amd64'] } } });
      const nc = await connectNats(server.url, { name: 'agent', log: quiet, credentials: agent });
      try {
        assert.equal(nc.info?.tls_required, true);
        const c = await jetstream(nc).consumers.get(STREAMS.builds, buildConsumerName('deb', 'amd64'));
        assert.equal((await c.info(true)).name, buildConsumerName('deb', 'amd64'));
      } finally {
        await nc.close();
        await admin.close();
      }
      const { ca: _ca, ...untrusting } = agent;
      await assert.rejects(connectNats(server.url, { name: 'no-ca', log: quiet, credentials: untrusting }), /certificate|TLS|self.signed/i, 'a client that does not trust the certificate is refused');
    } finally {
      await server.dispose();
    }
  });

  test('broker permissions - user/password credentials files work; a bad file names its line and field', async () => {
    const server = await startNats({ config: 'accounts { KILN: { jetstream: enabled, users: [ { user: "ops", password: "s3cret" } ] } }\n' });
    try {
      const good = join(tmp, 'ops.creds');
      await writeFile(good, 'user: ops\npassword: s3cret\n', { mode: 0o600 });
      const nc = await connectNats(server.url, { name: 'ops', log: quiet, credentials: await readCredentials(good) });
      await nc.flush();
      await nc.close();
      const wrong = join(tmp, 'wrong.creds');
      await writeFile(wrong, 'user: ops\npassword: nope\n', { mode: 0o600 });
      await assert.rejects(connectNats(server.url, { name: 'ops', log: quiet, credentials: await readCredentials(wrong) }), /Authorization|authentication/i);
    } finally {
      await server.dispose();
    }
    const bad = join(tmp, 'bad.creds');
    await writeFile(bad, 'user: agent-deb\nnkey: not-a-seed\n');
    const r = await kiln('agent', '--nats', 'nats://127.0.0.1:1', '--nats-credentials', bad);
    assert.equal(r.code, 2);
    assert.match(r.stderr, new RegExp(`${bad.replace(/[.]/g, '\\.')}:2:7: .*nkey`), r.stderr);
    const both = join(tmp, 'both.creds');
    await writeFile(both, 'user: x\npassword: a\nnkey: SUAIBDPBAUTWCWBKIO6XHQNINK5FWJW4OHLXC3HQ2KFE4PEJUA44CNHTC4\n');
    const r2 = await kiln('reconcile', '--nats', 'nats://127.0.0.1:1', '--nats-credentials', both, '--repo', tmp);
    assert.equal(r2.code, 2);
    assert.match(r2.stderr, /invalid NATS credentials file/);
  });
});
