// OCI images end to end on real parts: Docker's builder (RUN with no network),
// two Debian docker-registry instances (candidate, production), skopeo. A base
// image is built FROM scratch and pushed to the candidate registry; an app image
// is built FROM the base by digest; the image-test gate runs `test:` commands in
// the candidate image; a passing image is promoted by digest, its tag signed, and
// skopeo with a policy.json requiring Kiln's key accepts it and refuses an unsigned one.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { engineImages } from '../../agents/engine-images.ts';
import { buildOciImage, type OciBuildSpec } from '../../agents/oci-build.ts';
import { OWN_TAG_REPOSITORY } from '../../agents/oci-own-tag.ts';
import { OciRunner } from '../../agents/oci-runner.ts';
import { byDigest, byTag, formatRef } from '../../oci/image-ref.ts';
import { consumerPolicy, registriesDConfig } from '../../oci/consumer-policy.ts';
import { signTag } from '../../oci/lookaside.ts';
import { RegistryClient } from '../../oci/registry-client.ts';
import { verifyReportedImage } from '../../oci/verify-reported.ts';
import { DigestMismatchError, ImageNotFoundError } from '../../schema/errors.ts';
import { runImageTestGate } from '../../reconciler/gate/image-test.ts';
import type { ResolvedLimits } from '../../schema/messages.ts';
import type { OciImage } from '../../schema/oci.ts';
import { validators } from '../../schema/validate.ts';
import { docker, dockerUnavailable, engineBuild } from '../helpers/docker.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { makeTestKey, type TestKey } from '../helpers/signed-repo.ts';
import { writeBusyboxRootfs } from '../helpers/tiny-image.ts';

const run = promisify(execFile);
const log = pino({ level: 'silent' });
const limits: ResolvedLimits = { memoryMiB: 256, cpus: 1, pids: 256, timeoutSeconds: 120 };
const registry = new RegistryClient({ tlsVerify: false });

let cand: TestRegistry;
let prod: TestRegistry;
let src: string;
let dir: string;
let key: TestKey;
let base: OciImage;
let app: OciImage;

async function build(spec: Omit<OciBuildSpec, 'sourceDir'>): Promise<{ outcome: Awaited<ReturnType<typeof buildOciImage>>; log: string }> {
  let out = '';
  const outcome = await buildOciImage(docker, registry, { sourceDir: src, ...spec }, limits, { onLog: (b) => (out += b.toString()) });
  return { outcome, log: out };
}

function digestRef(img: OciImage): string {
  return `${img.repository}@${img.manifestDigest}`;
}

describe('oci build, gate, promote, sign', { skip: await dockerUnavailable('kiln/bookworm-buildd') }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-oci-build-'));
    src = join(dir, 'src');
    [cand, prod, key] = await Promise.all([startRegistry('candidate'), startRegistry('production'), makeTestKey('kiln-release')]);
    await mkdir(join(src, 'base'), { recursive: true });
    await mkdir(join(src, 'app'), { recursive: true });
    await mkdir(join(src, 'net'), { recursive: true });
    await writeBusyboxRootfs(join(src, 'base'));
    await writeFile(join(src, 'base', 'Dockerfile'), 'FROM scratch\nADD rootfs.tar /\nENV PATH=/bin\nCMD ["sh"]\n');
    await writeFile(join(src, 'app', 'Dockerfile'), 'FROM kiln/base:latest AS runtime\nRUN echo hello-kiln > /hello.txt\nCMD ["cat", "/hello.txt"]\n');
    await mkdir(join(src, 'slow'), { recursive: true });
    await writeFile(join(src, 'slow', 'Dockerfile'), 'FROM kiln/base\nRUN sleep 600\n');
    await writeFile(join(src, 'net', 'Dockerfile'), 'FROM kiln/base\nRUN wget -q -O /index.html http://deb.debian.org/debian/\n');
  });
  after(async () => {
    await Promise.all([cand?.dispose(), prod?.dispose()]);
    for (const img of [base, app]) if (img) await docker.getImage(digestRef(img)).remove({ force: true }).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('oci build - a base FROM scratch is pushed to the candidate registry and described by what it serves', async () => {
    const { outcome, log: out } = await build({ context: 'base', dockerfile: 'base/Dockerfile', push: byTag(cand.host, 'kiln/base', 'build-1') });
    assert.ok(outcome.ok, out);
    base = outcome.image;
    assert.ok(validators.ociImage(base), JSON.stringify(validators.ociImage.errors));
    assert.equal(base.repository, `${cand.host}/kiln/base`);
    assert.equal(base.layers.length, 1);
    // The independent client sees the same digest under the pushed tag.
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${cand.host}/kiln/base:build-1`]);
    assert.equal(stdout.trim(), base.manifestDigest);
    const again = await registry.inspect(byDigest(cand.host, 'kiln/base', base.manifestDigest));
    assert.equal(again.configDigest, base.configDigest);
  });

  test('oci build - a layered app is built FROM the base by digest: its layers start with the base\'s', async () => {
    const { outcome, log: out } = await build({ context: 'app', dockerfile: 'app/Dockerfile', base: digestRef(base), push: byTag(cand.host, 'kiln/app', 'build-1') });
    assert.ok(outcome.ok, out);
    app = outcome.image;
    assert.match(out, new RegExp(`pulling the base image ${digestRef(base).replace(/[.]/g, '\\.')}`));
    assert.equal(app.layers.length, 2);
    assert.equal(app.layers[0].digest, base.layers[0].digest);
  });

  test('oci build - afterwards the agent drops only its own tag: an image ID something else names (the same image built by another job) stays', async () => {
    const keep = `kiln-test/oci-same-id:${process.pid}`;
    let id: string | undefined;
    // Another job's image with the same ID: named by another tag before this build cleans up.
    const sharing = Object.create(registry, {
      pushFromDaemon: {
        value: async (image: string, to: Parameters<RegistryClient['pushFromDaemon']>[1]) => {
          id = image;
          await docker.getImage(image).tag({ repo: keep.split(':')[0], tag: keep.split(':')[1] });
          return registry.pushFromDaemon(image, to);
        },
      },
    }) as RegistryClient;
    try {
      let out = '';
      const outcome = await buildOciImage(docker, sharing, { sourceDir: src, context: 'app', dockerfile: 'app/Dockerfile', base: digestRef(base), push: byTag(cand.host, 'kiln/app', 'same-id') }, limits, { onLog: (b) => (out += b.toString()) });
      assert.ok(outcome.ok, out);
      await engineImages(docker).idle();
      const kept = await docker.getImage(keep).inspect();
      assert.equal(kept.Id, id, 'the other name still finds the image');
      assert.deepEqual(kept.RepoTags.filter((t) => t.startsWith(`${OWN_TAG_REPOSITORY}:`)), [], 'the build dropped its own tag');
    } finally {
      await docker.getImage(keep).remove().catch(() => undefined);
    }
  });

  test('oci build - a base whose ONBUILD trigger is a COPY --from (its flag name quoted, which Docker reads as --from) is refused before the build, naming the trigger; nothing pushed', async () => {
    // The Dockerfile check cannot see a trigger: it comes with the base, and would read any image on the engine.
    await mkdir(join(src, 'onbuild'), { recursive: true });
    await writeBusyboxRootfs(join(src, 'onbuild'));
    await writeFile(join(src, 'onbuild', 'Dockerfile'), 'FROM scratch\nADD rootfs.tar /\nONBUILD COPY --"from"=kiln/bookworm-buildd /etc/passwd /stolen\n');
    const tag = `kiln-test/oci-onbuild:${process.pid}`;
    const id = await engineBuild(join(src, 'onbuild'), tag);
    const triggered = `${cand.host}/kiln/onbuild@${await registry.pushFromDaemon(id, byTag(cand.host, 'kiln/onbuild', 'build-1'))}`;
    try {
      const { outcome, log: out } = await build({ context: 'app', dockerfile: 'app/Dockerfile', base: triggered, push: byTag(cand.host, 'kiln/app', 'onbuild') });
      assert.ok(!outcome.ok && outcome.class === 'build', out);
      assert.match(outcome.reason, /has the ONBUILD trigger `COPY --"from"=kiln\/bookworm-buildd \/etc\/passwd \/stolen`: COPY --from reads another image/);
      await assert.rejects(registry.inspect(byTag(cand.host, 'kiln/app', 'onbuild')), ImageNotFoundError);
    } finally {
      await engineImages(docker).idle();
      for (const ref of [tag, triggered]) await docker.getImage(ref).remove().catch(() => undefined);
    }
  });

  test('oci build - the reconciler verifies a reported image from the registry; a wrong report is an integrity failure', async () => {
    assert.deepEqual(await verifyReportedImage(registry, app), app);
    const lie = { ...app, configDigest: base.configDigest };
    await assert.rejects(verifyReportedImage(registry, lie), (e: unknown) => e instanceof DigestMismatchError && e.kind === 'terminal' && /config/.test(e.message));
    const missing = { ...app, manifestDigest: 'sha256:' + '2'.repeat(64) };
    await assert.rejects(verifyReportedImage(registry, missing), ImageNotFoundError);
  });

  test('oci runner - a job with an oci recipe is built and pushed under its build key; the result names the image', async () => {
    const key = 'c'.repeat(64);
    const job = {
      v: 1 as const, key, attempt: 1, pool: 'oci', dispatchedAt: new Date().toISOString(), limits,
      inputs: {
        package: 'app', version: '1.0', source: { url: 'file:///src', commit: 'a'.repeat(40) }, image: 'none', arch: 'amd64', target: 'candidate',
        recipe: { format: 'oci', rebuild: 0, oci: { dockerfile: 'Dockerfile', context: '.', repository: 'kiln/app', from: digestRef(base) } },
      },
    };
    assert.ok(validators.buildJob(job), JSON.stringify(validators.buildJob.errors));
    const runner = new OciRunner({ log, candidate: cand.host, insecure: true });
    let out = '';
    const r = await runner.run(job, { root: dir, sourceDir: src, buildDir: join(src, 'app') }, { onLog: (b) => (out += b.toString()), signal: new AbortController().signal });
    assert.equal(r.exitCode, 0, out);
    assert.equal(r.image?.manifestDigest, await registry.resolveTag(byTag(cand.host, 'kiln/app', `build-${key}`)));
    assert.equal(r.image?.layers[0].digest, base.layers[0].digest);
  });

  test('oci build - a Dockerfile whose RUN tries the network fails with that reason', async () => {
    const { outcome, log: out } = await build({ context: 'net', dockerfile: 'net/Dockerfile', base: digestRef(base), push: byTag(cand.host, 'kiln/net', 'build-1') });
    assert.equal(outcome.ok, false, out);
    assert.ok(!outcome.ok && outcome.class === 'build');
    assert.match(!outcome.ok ? outcome.reason : '', /tried to use the network.*bad address 'deb\.debian\.org'/);
    assert.deepEqual(await registry.listTags(cand.host, 'kiln/net'), []);
  });

  test('oci runner - a RUN step past the job\'s time limit ends the build as a limit failure, nothing pushed', async () => {
    const key = 'd'.repeat(64);
    const job = {
      v: 1 as const, key, attempt: 1, pool: 'oci', dispatchedAt: new Date().toISOString(), limits: { ...limits, timeoutSeconds: 5 },
      inputs: {
        package: 'slow', version: '1.0', source: { url: 'file:///src', commit: 'a'.repeat(40) }, image: 'none', arch: 'amd64', target: 'candidate',
        recipe: { format: 'oci', rebuild: 0, oci: { dockerfile: 'Dockerfile', context: '.', repository: 'kiln/slow', from: digestRef(base) } },
      },
    };
    const runner = new OciRunner({ log, candidate: cand.host, insecure: true });
    let out = '';
    const r = await runner.run(job, { root: dir, sourceDir: src, buildDir: join(src, 'slow') }, { onLog: (b) => (out += b.toString()), signal: new AbortController().signal });
    assert.notEqual(r.exitCode, 0, out);
    assert.equal(r.timedOut, true);
    assert.equal(r.failure?.class, 'limit');
    assert.match(r.failure?.reason ?? '', /did not finish within 5 s/);
    assert.equal(r.image, undefined);
    assert.deepEqual(await registry.listTags(cand.host, 'kiln/slow'), []);
  });

  test('oci build - a FROM by tag without `from:` is refused before anything runs', async () => {
    const { outcome } = await build({ context: 'app', dockerfile: 'app/Dockerfile', push: byTag(cand.host, 'kiln/app', 'build-x') });
    assert.equal(outcome.ok, false);
    assert.match(!outcome.ok ? outcome.reason : '', /app\/Dockerfile: line 1: FROM kiln\/base:latest names an image by tag/);
  });

  test('image-test gate - a failing test: command gives a failing verdict with the reason; a passing one passes, with no network', async () => {
    const common = { docker, image: digestRef(app), distribution: 'stable', from: 'candidate', package: 'app', version: '1.0', timeoutSeconds: 60, log };
    const failed = await runImageTestGate({ ...common, test: 'grep -q goodbye /hello.txt' });
    assert.equal(failed.verdict, 'failed');
    assert.equal(failed.reason, 'the test command exited with 1: grep -q goodbye /hello.txt');
    assert.ok(validators.gateRecord(failed));
    const offline = await runImageTestGate({ ...common, test: 'wget -q -O- http://deb.debian.org/ >/dev/null' });
    assert.equal(offline.verdict, 'failed');
    const passed = await runImageTestGate({ ...common, test: 'test "$(cat /hello.txt)" = hello-kiln' });
    assert.equal(passed.verdict, 'passed', passed.logTail);
  });

  test('promotion - copied by digest to production, tag signed: skopeo with the policy accepts it and refuses an unsigned one', async () => {
    const digest = app.manifestDigest;
    assert.equal(await registry.copy(byDigest(cand.host, 'kiln/app', digest), byDigest(prod.host, 'kiln/app', digest)), digest);
    await registry.setTag({ ...byDigest(prod.host, 'kiln/app', digest), digest }, '1.0-1');
    // Verified from the registry, by the independent client.
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${prod.host}/kiln/app:1.0-1`]);
    assert.equal(stdout.trim(), digest);
    const repos = join(dir, 'repos');
    await mkdir(join(repos, 'sigstore'), { recursive: true });
    await signTag({ registry: prod.host, repository: 'kiln/app', tag: '1.0-1', digest }, { root: join(repos, 'sigstore'), sign: (p) => key.signer.signMessage(p), publicKeyArmored: key.publicKeyArmored, now: new Date() });
    // An image copied into production by hand, never signed.
    await registry.copy(byDigest(cand.host, 'kiln/base', base.manifestDigest), byTag(prod.host, 'kiln/base', 'unsigned'));

    await writeFile(join(dir, 'kiln.asc'), key.publicKeyArmored);
    await writeFile(join(dir, 'policy.json'), JSON.stringify(consumerPolicy({ scopes: [prod.host], keyPath: join(dir, 'kiln.asc') })));
    await mkdir(join(dir, 'registries.d'));
    await writeFile(join(dir, 'registries.d', 'kiln.yaml'), registriesDConfig(prod.host, `file://${join(repos, 'sigstore')}`));
    const consumer = (ref: string, out: string) =>
      run('skopeo', ['--policy', join(dir, 'policy.json'), '--registries.d', join(dir, 'registries.d'), 'copy', '--src-tls-verify=false', `docker://${ref}`, `dir:${join(dir, out)}`]);
    await consumer(`${prod.host}/kiln/app:1.0-1`, 'accepted');
    await assert.rejects(consumer(`${prod.host}/kiln/base:unsigned`, 'refused'), (e: { stderr?: string }) => /signature/i.test(String(e.stderr)));
    assert.equal(formatRef(byDigest(prod.host, 'kiln/app', digest)), `${prod.host}/kiln/app@${digest}`);
  });
});
