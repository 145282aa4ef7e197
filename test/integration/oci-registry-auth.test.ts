// kiln-test: alone (scripts/test runs it after the others, one at a time)
// Registry credentials on real parts: two Debian docker-registry instances with
// htpasswd basic auth (as `kiln up` runs them: the candidate admits the agent's
// and the reconciler's users, production only the reconciler's), nats-server, an
// agent with the oci runner, real passes, skopeo as the independent client.
// - Through passes: the agent pushes with its credentials (and pulls the base
//   image by digest with them), the reconciler verifies, gates (Docker pulls with
//   its credentials) and promotes to production.
// - The agent's credentials are refused by production, and nothing lands there.
// - At promotion a wrong password is a usage error naming the registry and the
//   credentials file, with nothing copied; a production that is down stays
//   transient; the right credentials then promote.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { jetstreamManager } from '@nats-io/jetstream';
import { parse } from 'yaml';
import { byDigest, byTag } from '../../oci/image-ref.ts';
import { promote } from '../../oci/promote.ts';
import { renderAuthFile, type RegistryAuth } from '../../oci/registry-auth.ts';
import { RegistryClient } from '../../oci/registry-client.ts';
import { RegistryError } from '../../schema/errors.ts';
import { RESULTS_CONSUMER, STREAMS } from '../../schema/nats.ts';
import { STATUS_LAYOUT } from '../../schema/status.ts';
import { docker, dockerUnavailable, untagRegistryImages } from '../helpers/docker.ts';
import { runKiln } from '../helpers/cli.ts';
import { commitFiles, makeRepo } from '../helpers/git.ts';
import { OCI_KILN_YAML, startOciStack, statusFile, type OciStack } from '../helpers/oci-loop.ts';
import { makeTestKey } from '../helpers/signed-repo.ts';
import { importBusyboxImage, makeImageSource } from '../helpers/tiny-image.ts';
import { until } from '../helpers/until.ts';
import type { PassReport } from '../../reconciler/pass.ts';

const run = promisify(execFile);
const PUSHED = `kiln-test/oci-auth:${process.pid}`;

let stack: OciStack;

const released = async (dist: string): Promise<string[]> => {
  const text = await statusFile(stack.repoDir, `releases/${dist}.yaml`);
  return text ? (parse(text) as { packages: Array<{ name: string }> }).packages.map((p) => p.name).sort() : [];
};

/** skopeo as a consumer with `authfile` (undefined: anonymous): the digest `ref` serves. */
const inspect = async (ref: string, authfile?: string) =>
  (await run('skopeo', ['inspect', '--tls-verify=false', ...(authfile ? ['--authfile', authfile] : []), '--format', '{{.Digest}}', `docker://${ref}`])).stdout.trim();

/** Repositories in a registry's storage, read from disk (what landed there, whatever the API says). */
async function storedRepositories(storageDir: string): Promise<string[]> {
  const root = join(storageDir, 'docker/registry/v2/repositories');
  const out: string[] = [];
  const walk = async (dir: string, prefix: string): Promise<void> => {
    const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
    if (entries.some((e) => e.name === '_manifests')) out.push(prefix);
    for (const e of entries) if (e.isDirectory() && !e.name.startsWith('_')) await walk(join(dir, e.name), prefix ? `${prefix}/${e.name}` : e.name);
  };
  await walk(root, '');
  return out.sort();
}

/** The build records of `pkg` `version` on kiln/status. */
async function buildRecords(pkg: string, version: string): Promise<Array<{ key: string; state: string; attempts: Array<{ n: number; outcome?: string }> }>> {
  const names = (await run('git', ['-C', stack.repoDir, 'ls-tree', '--name-only', 'kiln/status', 'builds/'])).stdout.split('\n').filter(Boolean);
  const records = await Promise.all(names.map(async (n) => parse((await statusFile(stack.repoDir, n))!) as { key: string; state: string; attempts: Array<{ n: number; outcome?: string }>; inputs: { package: string; version: string } }));
  return records.filter((r) => r.inputs.package === pkg && r.inputs.version === version);
}

/** A credentials file of our own: the user of `from`, for each of `hosts`, with `password` if given. */
async function authFile(name: string, from: RegistryAuth, hosts: string[], password?: string): Promise<RegistryAuth> {
  const cred = [...from.hosts.values()][0];
  const entries = Object.fromEntries(hosts.map((h) => [h, { username: cred.username, password: password ?? cred.password }]));
  const file = join(stack.dir, name);
  await writeFile(file, renderAuthFile(entries), { mode: 0o600 });
  return { file, hosts: new Map(Object.entries(entries)) };
}

describe('oci registry auth', { skip: await dockerUnavailable('kiln/bookworm-buildd') }, () => {
  before(async () => {
    stack = await startOciStack({
      label: 'oci-auth',
      auth: true,
      files: async ({ dir, cand, prod }) => {
        const src = join(dir, 'images');
        await makeImageSource(src, 'base', 'FROM scratch\nADD rootfs.tar /\nENV PATH=/bin\nCMD ["sh"]\n');
        // The FROM line names the base by tag; Kiln pins it to the digest of base's build in the candidate.
        await commitFiles(src, { 'app/Dockerfile': 'FROM kiln/base:latest\nRUN echo hello-kiln > /hello.txt\nCMD ["sh"]\n' }, 'app');
        const pkg = (name: string, extra: string) =>
          `name: ${name}\nversion: 1.0-1\nformat: oci\nsource: { git: ${src}, ref: main, subdir: ${name} }\narchitectures: [amd64]\nrelease: [candidate, production]\n${extra}`;
        return {
          'kiln.yaml': `${OCI_KILN_YAML}registries:\n  ${cand.host}:\n    insecure: true\n  ${prod.host}:\n    insecure: true\n`,
          'packages/base.yaml': pkg('base', 'test: test -x /bin/sh\n'),
          'packages/app.yaml': pkg('app', 'from: base\ntest: grep -q hello-kiln /hello.txt\n'),
          'distributions/candidate.yaml': `name: candidate\nformat: registry\nurl: ${cand.host}\nrepository: kiln\narchitectures: [amd64]\n`,
          'distributions/production.yaml': `name: production\nformat: registry\nurl: ${prod.host}\nrepository: kiln\narchitectures: [amd64]\npromoteFrom: candidate\ngate: image-test\n`,
        };
      },
    });
  });
  after(async () => {
    // The agent keeps pulled bases and the gate its candidate images: ours go with the registries.
    if (stack) await untagRegistryImages([stack.cand.host, stack.prod.host]);
    await docker.getImage(PUSHED).remove({ force: true }).catch(() => undefined);
    await stack?.close();
  });

  test('oci registry auth - with credentials the agent pushes (and pulls its base), the reconciler verifies, gates and promotes; production refuses the agent', async () => {
    const { rec, cand, prod, auth } = stack;
    await until(
      async () => {
        await rec.runPass();
        return (await released('production')).join() === 'app,base';
      },
      300_000,
      'base and app built with credentials, gated and promoted to production',
    );
    const gate = parse((await statusFile(stack.repoDir, STATUS_LAYOUT.gate('production', 'app', '1.0-1')))!) as { verdict: string };
    assert.equal(gate.verdict, 'passed', 'the gate pulled the candidate image with the reconciler credentials and ran its test');
    const inCandidate = await inspect(`${cand.host}/kiln/app:1.0-1`, auth!.reconciler.file);
    assert.equal(await inspect(`${prod.host}/kiln/app:1.0-1`, auth!.reconciler.file), inCandidate, 'production serves the digest the agent pushed');
    // The agent's credentials, tried on production (as a compromised agent would), and no credentials at all: refused.
    const agentEverywhere = await authFile('agent-everywhere.json', auth!.agent, [cand.host, prod.host]);
    assert.equal(await inspect(`${cand.host}/kiln/app:1.0-1`, agentEverywhere.file), inCandidate, 'the agent reads the candidate');
    for (const file of [agentEverywhere.file, undefined]) {
      await assert.rejects(inspect(`${prod.host}/kiln/app:1.0-1`, file), (e: { stderr?: string }) => /unauthorized|authentication required/i.test(String(e.stderr)));
    }
  });

  test('oci registry auth - an agent\'s credentials push to the candidate; production refuses the same credentials and nothing lands there', async () => {
    const { cand, prod, auth } = stack;
    const agentEverywhere = await authFile('agent-everywhere.json', auth!.agent, [cand.host, prod.host]);
    const asAgent = new RegistryClient({ tlsVerify: false, auth: agentEverywhere });
    const image = await importBusyboxImage(PUSHED);
    const before = await storedRepositories(prod.storageDir);
    const digest = await asAgent.pushFromDaemon(image, byTag(cand.host, 'kiln/pushed', 'build-1'));
    assert.match(digest, /^sha256:[0-9a-f]{64}$/);
    await assert.rejects(asAgent.pushFromDaemon(image, byTag(prod.host, 'kiln/pushed', '1')), (e: unknown) => {
      assert.ok(e instanceof RegistryError, String(e));
      assert.equal(e.kind, 'usage');
      assert.ok(e.message.includes(prod.host) && e.message.includes(agentEverywhere.file), e.message);
      return true;
    });
    // Not a copy by digest either (what promotion does).
    await assert.rejects(asAgent.copy(byDigest(cand.host, 'kiln/pushed', digest), byTag(prod.host, 'kiln/pushed', '1')), (e: unknown) => e instanceof RegistryError && e.kind === 'usage');
    assert.deepEqual(await storedRepositories(prod.storageDir), before, 'nothing of the refused pushes is stored in production');
    const asReconciler = new RegistryClient({ tlsVerify: false, auth: auth!.reconciler });
    assert.deepEqual(await asReconciler.listTags(prod.host, 'kiln/pushed'), []);
    // Anonymous pushes are refused by the candidate too.
    await assert.rejects(new RegistryClient({ tlsVerify: false }).pushFromDaemon(image, byTag(cand.host, 'kiln/pushed', 'anonymous')), (e: unknown) => e instanceof RegistryError && e.kind === 'usage');
  });

  test('oci registry auth - promotion: a wrong password is a usage error naming the registry and file, nothing copied; production down is transient; the right credentials promote', async () => {
    const { cand, prod, auth } = stack;
    const key = await makeTestKey('kiln-release');
    const asReconciler = new RegistryClient({ tlsVerify: false, auth: auth!.reconciler });
    const digest = (await asReconciler.resolveTag(byTag(cand.host, 'kiln/pushed', 'build-1')))!;
    assert.ok(digest, 'the image the previous test pushed');
    const request = (client: RegistryClient) => ({
      client,
      endpoints: { candidate: cand.host, production: prod.host },
      desired: [{ repository: 'kiln/pushed', tag: '1', digest }],
      signing: { root: join(stack.dir, 'sigstore'), sign: (p: Uint8Array) => key.signer.signMessage(p), publicKeyArmored: key.publicKeyArmored, now: new Date() },
    });
    const wrong = await authFile('wrong-password.json', auth!.reconciler, [cand.host, prod.host], 'not-the-password');
    await assert.rejects(promote(request(new RegistryClient({ tlsVerify: false, auth: wrong }))), (e: unknown) => {
      assert.ok(e instanceof RegistryError, String(e));
      assert.equal(e.kind, 'usage', 'a refused credential needs a human: not retried as if the registry were down');
      assert.ok(e.message.includes(wrong.file) && /refused/.test(e.message), e.message);
      return true;
    });
    assert.deepEqual(await asReconciler.listTags(prod.host, 'kiln/pushed'), []);

    await prod.stop();
    try {
      await assert.rejects(promote(request(asReconciler)), (e: unknown) => e instanceof RegistryError && e.kind === 'transient');
    } finally {
      await prod.restart();
    }
    const report = await promote(request(asReconciler));
    assert.equal(report.changed, true);
    assert.equal(await inspect(`${prod.host}/kiln/pushed:1`, auth!.reconciler.file), digest);
  });

  test('oci registry auth - kiln plan resolves a base image named by tag with --registry-auth; without it the wait names the refusal', async () => {
    const { cand, auth, dir } = stack;
    const asReconciler = new RegistryClient({ tlsVerify: false, auth: auth!.reconciler });
    const seed = await asReconciler.resolveTag(byTag(cand.host, 'kiln/pushed', 'build-1'));
    assert.ok(seed, 'the image an earlier test pushed');
    await asReconciler.setTag(byDigest(cand.host, 'kiln/pushed', seed) as ReturnType<typeof byDigest> & { digest: string }, 'latest');
    const meta = await makeRepo({
      'kiln.yaml': `${OCI_KILN_YAML}registries:\n  ${cand.host}:\n    insecure: true\n`,
      'packages/app.yaml': `name: app\nversion: 1.0-1\nformat: oci\nsource: { git: ${join(dir, 'images')}, ref: main, subdir: app }\narchitectures: [amd64]\nfrom: ${cand.host}/kiln/pushed:latest\n`,
    });
    const plan = async (extra: string[]) => JSON.parse((await runKiln(['plan', '--repo', meta.dir, '--json', '--quiet', ...extra])).stdout) as { actions: Array<{ kind: string }>; waiting: Array<{ message: string }> };
    const anonymous = await plan([]);
    assert.ok(anonymous.waiting.some((w) => w.message.includes('refused anonymous access')), JSON.stringify(anonymous.waiting));
    const withAuth = await plan(['--registry-auth', auth!.reconciler.file]);
    assert.deepEqual(withAuth.waiting, []);
    assert.deepEqual(withAuth.actions.map((a) => a.kind), ['build']);
  });

  test('oci registry auth - kiln agent checks its credentials against the candidate at start: refused, exit 2 naming the file; accepted, it goes on to connect', async () => {
    const { cand, auth } = stack;
    const wrong = await authFile('agent-wrong.json', auth!.agent, [cand.host], 'not-the-password');
    const refused = await runKiln(['agent', '--nats', 'nats://127.0.0.1:1', '--pool', 'oci', '--candidate-registry', cand.host, '--registry-auth', wrong.file]);
    assert.equal(refused.code, 2, refused.stderr);
    assert.ok(refused.stderr.includes(wrong.file) && refused.stderr.includes(cand.host), refused.stderr);
    const accepted = await runKiln(['agent', '--nats', 'nats://127.0.0.1:1', '--pool', 'oci', '--candidate-registry', cand.host, '--registry-auth', auth!.agent.file]);
    assert.notEqual(accepted.code, 2, `past the registry check, only NATS is missing: ${accepted.stderr}`);
  });

  test('oci registry auth - with --registry-auth the model holds no credentials: a pass with no change plans on the same distribution objects (incremental)', async () => {
    const { rec, auth } = stack;
    type Parts = { desired: unknown; dists: Map<string, { dist: unknown }> };
    const parts = () => (rec.memo.plan as unknown as { parts: Parts }).parts;
    await rec.runPass();
    const before = parts().dists.get('production')!.dist;
    await rec.runPass();
    assert.equal(parts().desired, rec.memo.desired!.state, 'the planner gets the desired state as read');
    assert.equal(parts().dists.get('production')!.dist, before, 'the same distribution object: its part of the plan is not redone');
    assert.equal(before, rec.memo.desired!.state.distributions.get('production'));
    const password = [...auth!.reconciler.hosts.values()][0].password;
    assert.ok(!JSON.stringify([...rec.memo.desired!.state.distributions.values()]).includes(password), 'no secret in the desired state');
  });

  test('oci registry auth - a candidate registry refusing the reconciler\'s own credentials records no attempt and shows in the pass report and kiln status; once the file is fixed the build is collected', async () => {
    const { rec, cand, prod, auth, nc } = stack;
    const good = await readFile(auth!.reconciler.file, 'utf8');
    const cred = auth!.reconciler.hosts.get(cand.host)!;
    // Only the reconciler's candidate password is wrong (the agent's is right: it builds and pushes).
    await writeFile(auth!.reconciler.file, renderAuthFile({ [cand.host]: { ...cred, password: 'not-the-password' }, [prod.host]: auth!.reconciler.hosts.get(prod.host)! }), { mode: 0o600 });
    const yaml = (await run('git', ['-C', stack.repoDir, 'show', 'main:packages/app.yaml'])).stdout;
    await commitFiles(stack.repoDir, { 'packages/app.yaml': yaml.replace('version: 1.0-1', 'version: 1.0-2') }, 'app 1.0-2');
    const jsm = await jetstreamManager(nc);
    const handedBack: PassReport['unjudged'] = [];
    await until(
      async () => {
        handedBack.push(...(await rec.runPass()).unjudged);
        const recorded = (await buildRecords('app', '1.0-2')).flatMap((r) => r.attempts.filter((x) => x.outcome !== undefined));
        assert.deepEqual(recorded, [], 'an attempt was recorded for the reconciler\'s refused credential');
        // Handed back and delivered again at least once: the reconciler saw the result and did not record it.
        return (await jsm.consumers.info(STREAMS.results, RESULTS_CONSUMER)).num_redelivered >= 1;
      },
      300_000,
      'the agent reported app 1.0-2 and the reconciler handed the result back',
    );
    await rec.runPass();
    const waiting = await buildRecords('app', '1.0-2');
    assert.equal(waiting.length, 1, 'one build of app 1.0-2 is recorded (dispatched)');
    assert.equal(waiting[0].state, 'queued');
    assert.deepEqual(waiting[0].attempts.map((a) => [a.n, a.outcome]), [[1, undefined]], 'attempt 1 is still open: none is burnt on the reconciler\'s refused credential');
    // Visible where users look: the pass report, and the Ready condition that kiln status shows.
    assert.deepEqual([...new Set(handedBack.map((u) => u.buildKey))], [waiting[0].key], 'the passes reported the result they handed back: the open build of app 1.0-2');
    assert.ok(handedBack.every((u) => u.reason.includes(cand.host) && u.reason.includes(auth!.reconciler.file)), JSON.stringify(handedBack));
    const status = await runKiln(['status', '--repo', stack.repoDir, '--json']);
    assert.equal(status.code, 0, status.stderr);
    const ready = (JSON.parse(status.stdout) as { ready: { status: string; reason: string; message: string } }).ready;
    assert.equal(ready.status, 'False');
    assert.equal(ready.reason, 'ResultsUnjudged');
    assert.ok(ready.message.includes(cand.host) && ready.message.includes(auth!.reconciler.file), ready.message);
    const human = await runKiln(['status', '--repo', stack.repoDir]);
    assert.match(human.stdout, /Ready: NO — ResultsUnjudged since .*: 1 build result handed back unjudged/);

    await writeFile(auth!.reconciler.file, good, { mode: 0o600 });
    await until(
      async () => {
        await rec.runPass();
        return (await buildRecords('app', '1.0-2'))[0]?.state === 'succeeded';
      },
      120_000,
      'with the credentials file fixed, the result is collected',
    );
    const fixed = JSON.parse((await runKiln(['status', '--repo', stack.repoDir, '--json'])).stdout) as { ready: { status: string; reason: string } };
    assert.deepEqual([fixed.ready.status, fixed.ready.reason], ['True', 'Reconciled'], 'judged: Ready again');
  });
});
