// kiln-test: alone (scripts/test runs it after the others, one at a time)
// The OCI path through a real reconcile pass: nats-server, an agent with the oci
// runner (Docker's builder), two Debian docker-registry instances (candidate,
// production), skopeo as the independent client. A desired oci package and a
// `format: registry` distribution: the pass dispatches the build, verifies the
// reported image in the candidate registry, records image.json as the build's
// artifact, promotes the image by digest into production, signs its tag and
// records the release on kiln/status.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import type { ObjectStore } from '@nats-io/obj';
import { createHash } from 'node:crypto';
import * as openpgp from 'openpgp';
import { byDigest, byTag } from '../../oci/image-ref.ts';
import { RegistryClient } from '../../oci/registry-client.ts';
import { readPayload } from '../../oci/simple-signing.ts';
import { cachedArtifactPath } from '../../reconciler/pipeline/artifact-cache.ts';
import { withVerifiedImage } from '../../reconciler/pipeline/oci-result.ts';
import type { BuildResult } from '../../schema/messages.ts';
import type { OciImage } from '../../schema/oci.ts';
import { RegistryError } from '../../schema/errors.ts';
import { consumerPolicy, registriesDConfig } from '../../oci/consumer-policy.ts';
import type { ReleasedTag } from '../../schema/status.ts';
import { docker, dockerUnavailable } from '../helpers/docker.ts';
import { OCI_KILN_YAML, startOciStack, statusFile, type OciStack } from '../helpers/oci-loop.ts';
import { importBusyboxImage, makeImageSource } from '../helpers/tiny-image.ts';
import { until } from '../helpers/until.ts';

const run = promisify(execFile);
const OTHER_IMAGE = `kiln-test/oci-pass-other:${process.pid}`;

let stack: OciStack;
let image: OciImage | undefined;

const onStatus = (path: string) => statusFile(stack.repoDir, path);

describe('oci pass', { skip: await dockerUnavailable('kiln/bookworm-buildd') }, () => {
  before(async () => {
    // The candidate is plain http: declared in kiln.yaml, which collect and promotion both obey.
    stack = await startOciStack({
      label: 'oci-pass',
      candidateInsecure: false,
      files: async ({ dir, cand, prod }) => {
        const src = join(dir, 'images');
        await makeImageSource(src, 'base', 'FROM scratch\nADD rootfs.tar /\nENV PATH=/bin\nCMD ["sh"]\n');
        return {
          'kiln.yaml': `${OCI_KILN_YAML}registries:\n  ${cand.host}:\n    insecure: true\n`,
          'packages/base.yaml': `name: base\nversion: 1.0-1\nformat: oci\nsource: { git: ${src}, ref: main, subdir: base }\narchitectures: [amd64]\nrelease: [images]\ntags: ['{version}', '{version}-{build}', latest]\n`,
          'distributions/images.yaml': `name: images\nformat: registry\nurl: ${prod.host}\nrepository: kiln\ninsecure: true\narchitectures: [amd64]\n`,
        };
      },
    });
  });
  after(async () => {
    await stack?.close();
    await docker.getImage(OTHER_IMAGE).remove({ force: true }).catch(() => undefined);
  });

  test('oci pass - a built image is verified, promoted by digest to production, its tag signed, the release recorded', async () => {
    const { rec, dir, cand, prod, publicKey } = stack;
    const release = await until(
      async () => {
        await rec.runPass();
        const text = await onStatus('releases/images.yaml');
        return text && (parse(text) as { packages: Array<{ name: string; builds: Record<string, string> }> }).packages.length ? text : undefined;
      },
      240_000,
      'the release of base on kiln/status',
    );
    const record = parse(release) as { desiredCommit: string; tags?: unknown[]; releaseSha256: string; packages: Array<{ name: string; version: string; builds: Record<string, string>; artifacts: Array<{ name: string; sha256: string }> }> };
    assert.deepEqual(record.packages.map((p) => [p.name, p.version]), [['base', '1.0-1']]);
    const buildKey = record.packages[0].builds.amd64;
    assert.deepEqual(record.packages[0].artifacts.map((a) => a.name), ['image.json']);
    image = JSON.parse(await readFile(cachedArtifactPath(join(dir, 'artifacts'), record.packages[0].artifacts[0].sha256), 'utf8')) as OciImage;
    // Recorded at collect for index assembly: the manifest's size and the config's platform.
    assert.deepEqual(image.platform, { os: 'linux', architecture: 'amd64' });
    assert.equal(image.manifestSize, (await new RegistryClient({ tlsVerify: false }).manifest(byDigest(cand.host, 'base', image.manifestDigest))).bytes.length);
    const build = parse((await onStatus(`builds/${buildKey}.yaml`))!) as { state: string; artifacts: Array<{ name: string; sha256: string }>; image?: OciImage };
    assert.equal(build.state, 'succeeded');
    const { manifestSize: _size, platform: _platform, ...described } = image;
    assert.deepEqual(build.image, described, 'the build record names the image image.json describes (which adds what collect recorded)');
    // The image.json artifact is signed like any artifact.
    assert.ok(await onStatus(`signatures/${build.artifacts[0].sha256}.asc`), 'the image.json signature is on kiln/status');

    // The independent client: production serves, under the version's tag, the digest the agent pushed to the candidate registry.
    const digestOf = async (ref: string) => (await run('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${ref}`])).stdout.trim();
    const candidate = await digestOf(`${cand.host}/base:build-${buildKey}`);
    assert.match(candidate, /^sha256:[0-9a-f]{64}$/);
    assert.equal(await digestOf(`${prod.host}/kiln/base:1.0-1`), candidate);
    assert.equal(image.manifestDigest, candidate);
    // Every tag the package's templates render points at it; releases/images.yaml lists each: repository, tag, digest, desired commit.
    const tags = ['1.0-1', `1.0-1-${buildKey.slice(0, 12)}`, 'latest'];
    for (const tag of tags) assert.equal(await digestOf(`${prod.host}/kiln/base:${tag}`), candidate, tag);
    const row = (tag: string) => ({ repository: 'kiln/base', tag, digest: candidate, package: 'base', version: '1.0-1', desiredCommit: record.desiredCommit });
    const rows = (record.tags ?? []) as Array<ReleasedTag>;
    assert.deepEqual(rows.map(({ signature: _s, ...r }) => r), tags.map(row));
    // Each row names its tag's signature, as served in the lookaside, and it verifies for that tag and digest.
    for (const r of rows) {
      assert.ok(r.signature, `${r.tag}: its signature is recorded`);
      assert.equal(r.signature.signingKey, (await openpgp.readKey({ armoredKey: publicKey })).getFingerprint().toUpperCase());
      const bytes = await readFile(join(dir, 'repos', 'images', 'sigstore', r.signature.file));
      assert.equal(createHash('sha256').update(bytes).digest('hex'), r.signature.sha256);
      const verified = await openpgp.verify({ message: await openpgp.readMessage({ binaryMessage: bytes }), verificationKeys: await openpgp.readKey({ armoredKey: publicKey }), format: 'binary', expectSigned: true });
      assert.deepEqual(readPayload(verified.data as Uint8Array), { dockerReference: `${prod.host}/kiln/base:${r.tag}`, digest: candidate });
    }

    // skopeo with a policy.json requiring Kiln's key accepts the promoted tag.
    await writeFile(join(dir, 'kiln.asc'), publicKey);
    await writeFile(join(dir, 'policy.json'), JSON.stringify(consumerPolicy({ scopes: [prod.host], keyPath: join(dir, 'kiln.asc') })));
    await mkdir(join(dir, 'registries.d'));
    await writeFile(join(dir, 'registries.d', 'kiln.yaml'), registriesDConfig(prod.host, `file://${join(dir, 'repos', 'images', 'sigstore')}`));
    await run('skopeo', ['--policy', join(dir, 'policy.json'), '--registries.d', join(dir, 'registries.d'), 'copy', '--src-tls-verify=false', `docker://${prod.host}/kiln/base:latest`, `dir:${join(dir, 'accepted')}`]);
  });

  test('oci pass - a reported image the candidate registry does not serve is an integrity failure; a registry that is down leaves the result unjudged', async (t) => {
    if (!image) return t.skip('needs the image of the first test');
    const { dir, cand, prod } = stack;
    const deps = { client: new RegistryClient({ tlsVerify: false }), objectStore: {} as ObjectStore, cacheDir: join(dir, 'unused'), candidate: cand.host };
    const lie = await withVerifiedImage({ ...succeeded(), image: { ...image, configDigest: `sha256:${'0'.repeat(64)}` } }, deps);
    assert.equal(lie.outcome, 'failed');
    assert.equal(lie.failureClass, 'integrity');
    assert.match(lie.reason ?? '', /config/);
    await cand.stop();
    try {
      // Not the build's fault: nothing to record (collect-step hands the result back).
      await assert.rejects(withVerifiedImage({ ...succeeded(), image }, deps), (e: unknown) => e instanceof RegistryError && e.kind === 'transient');
    } finally {
      await cand.restart();
    }
  });

  test('oci pass - a tag moved by hand in production is reported as drift and restored by the next pass', async (t) => {
    if (!image) return t.skip('needs the image of the first test');
    const { rec, prod } = stack;
    const released = image.manifestDigest;
    // Someone points latest at another image in production.
    const client = new RegistryClient({ tlsVerify: false });
    const other = await client.pushFromDaemon(await importBusyboxImage(OTHER_IMAGE), byTag(prod.host, 'kiln/other', 'x'));
    await client.copy(byDigest(prod.host, 'kiln/other', other), byTag(prod.host, 'kiln/base', 'latest'));
    assert.equal(await client.resolveTag(byTag(prod.host, 'kiln/base', 'latest')), other);
    const report = await rec.runPass();
    const republish = report.plan?.actions.find((a) => a.kind === 'republish' && a.distribution === 'images');
    assert.ok(republish, `the pass plans a republish of images: ${JSON.stringify(report.plan?.actions)}`);
    assert.match(republish.message ?? '', new RegExp(`kiln/base:latest points at ${other}.*moved by hand`));
    assert.deepEqual(report.published, ['images']);
    assert.equal(await client.resolveTag(byTag(prod.host, 'kiln/base', 'latest')), released);
    // Quiet again: the next pass finds nothing to restore.
    const next = await rec.runPass();
    assert.equal(next.plan?.actions.some((a) => a.kind === 'republish') ?? false, false);
  });

  test('oci pass - an image reported outside <candidate>/<recipe repository> is an integrity failure, even one the registry serves exactly', async (t) => {
    if (!image) return t.skip('needs the image of the first test');
    const { dir, cand, prod } = stack;
    const deps = { client: new RegistryClient({ tlsVerify: false }), objectStore: {} as ObjectStore, cacheDir: join(dir, 'unused'), candidate: cand.host };
    // The same image, byte for byte, in another repository of the candidate and in production: both serve it.
    for (const to of [`${cand.host}/elsewhere`, `${prod.host}/kiln/base`]) {
      await run('skopeo', ['copy', '--src-tls-verify=false', '--dest-tls-verify=false', `docker://${image.repository}@${image.manifestDigest}`, `docker://${to}:planted`]);
      const moved = await withVerifiedImage({ ...succeeded(), image: { ...image, repository: to } }, deps);
      assert.equal(moved.outcome, 'failed', to);
      assert.equal(moved.failureClass, 'integrity', to);
      assert.match(moved.reason ?? '', new RegExp(`reported in ${to}, but this build pushes to ${cand.host}/base`));
      assert.deepEqual(moved.artifacts, [], 'nothing recorded as built');
    }
    // A reconciler that was told no candidate registry accepts no image at all.
    const blind = await withVerifiedImage({ ...succeeded(), image }, { ...deps, candidate: undefined });
    assert.equal(blind.failureClass, 'integrity');
    assert.match(blind.reason ?? '', /--candidate-registry/);
  });

  test('oci pass - an image whose config is of another platform than the build arch is an integrity failure at collect, single-arch too', async (t) => {
    if (!image) return t.skip('needs the image of the first test');
    const { dir, cand } = stack;
    const deps = { client: new RegistryClient({ tlsVerify: false }), objectStore: {} as ObjectStore, cacheDir: join(dir, 'unused'), candidate: cand.host };
    // The amd64 image, served exactly as reported, claimed as an arm64 and an armhf build.
    for (const [arch, want] of [['arm64', 'linux/arm64'], ['armhf', 'linux/arm/v7']]) {
      const wrong = await withVerifiedImage({ ...succeeded(), inputs: { ...succeeded().inputs, arch }, image }, deps);
      assert.equal(wrong.outcome, 'failed', arch);
      assert.equal(wrong.failureClass, 'integrity', arch);
      assert.match(wrong.reason ?? '', new RegExp(`the ${arch} build's image is linux/amd64, not ${want}`));
      assert.deepEqual(wrong.artifacts, [], 'nothing recorded as built');
    }
  });
});

/** A stand-in agent's success for the base recipe (the fields collect reads). */
function succeeded(): BuildResult {
  return { key: 'k'.repeat(64), attempt: 1, outcome: 'succeeded', artifacts: [], inputs: { arch: 'amd64', recipe: { format: 'oci', rebuild: 0, oci: { dockerfile: 'Dockerfile', context: '.', repository: 'base' } } } } as unknown as BuildResult;
}
