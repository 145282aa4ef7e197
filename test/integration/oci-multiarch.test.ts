// kiln-test: alone (scripts/test runs it after the others, one at a time)
// A multi-architecture image through real passes: nats-server, two agents of the
// `oci` pool (amd64, and arm64 building under qemu on this amd64 host), two Debian
// docker-registry instances (candidate and production `format: registry`
// distributions, production promoteFrom candidate through image-test), skopeo and
// Docker as the independent clients. `hello` is declared `architectures: [amd64,
// arm64]` FROM a multi-arch base (an index of busybox images): each architecture is
// built from its own base image with a RUN step, the version is released as ONE
// image index, gated in each architecture's image, promoted with its images, every
// tag signed over the index digest. `app` FROM hello is built per architecture FROM
// hello's image of that architecture.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import * as openpgp from 'openpgp';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { parse } from 'yaml';
import { assembleIndex, DOCKER_MANIFEST_LIST, indexBuildKey } from '../../oci/image-index.ts';
import { byDigest, byTag } from '../../oci/image-ref.ts';
import { consumerPolicy } from '../../oci/consumer-policy.ts';
import { RegistryClient } from '../../oci/registry-client.ts';
import { ociPlatform } from '../../oci/platform.ts';
import { buildOciImage } from '../../agents/oci-build.ts';
import { readPayload } from '../../oci/simple-signing.ts';
import { ImageNotFoundError, isKilnError, PublishInputError } from '../../schema/errors.ts';
import { indexTag, versionImages } from '../../reconciler/release-targets/registry/version-images.ts';
import type { ImageIndexRecord } from '../../schema/oci.ts';
import { STATUS_BRANCH, STATUS_LAYOUT, type BuildRecord, type ReleaseRecord } from '../../schema/status.ts';
import { consumerCopy } from '../helpers/consumer-copy.ts';
import { docker, dockerUnavailable, untagRegistryImages } from '../helpers/docker.ts';
import { commitFiles, git } from '../helpers/git.ts';
import { OCI_KILN_YAML, startOciStack, statusFile, type OciStack } from '../helpers/oci-loop.ts';
import { importBusyboxImage } from '../helpers/tiny-image.ts';
import { until } from '../helpers/until.ts';

const run = promisify(execFile);
/** scripts/setup-host builds it: Debian's busybox-static:arm64 as an arm64 image. */
const ARM64_IMAGE = 'kiln/busybox-arm64';
const SEED_AMD64 = `kiln-test/multiarch-seed:${process.pid}`;

let stack: OciStack;
let seedIndex = '';
let src = '';
/** The first test's release of hello 1.0-1 (the second test starts from it). */
let first: ImageIndexRecord | undefined;
/** The third test's release of hello 1.1-1 (what production keeps while a later version fails). */
let second: ImageIndexRecord | undefined;

const onStatus = (path: string) => statusFile(stack.repoDir, path);
const KILN_YAML = OCI_KILN_YAML.replace('architectures: [amd64]', 'architectures: [amd64, arm64]');
const image = (name: string, extra: string, version = '1.0-1') =>
  `name: ${name}\nversion: ${version}\nformat: oci\nsource: { git: ${src}, ref: main, subdir: ${name} }\narchitectures: [amd64, arm64]\n${extra}`;
const hello = (version: string) =>
  image('hello', `from: ${stack.cand.host}/seed/busybox@${seedIndex}\nrelease: [candidate, production]\ntags: ['{version}', latest]\ntest: test "$(cat /arch)" = "$(uname -m)"\n`, version);
const dist = (name: string, url: string, extra = '') => `name: ${name}\nformat: registry\nurl: ${url}\nrepository: kiln\ninsecure: true\narchitectures: [amd64, arm64]\n${extra}`;

async function records(): Promise<BuildRecord[]> {
  const { stdout } = await run('git', ['-C', stack.repoDir, 'ls-tree', '--name-only', `${STATUS_BRANCH}:builds`]);
  return Promise.all(stdout.split('\n').filter((f) => f.endsWith('.yaml')).map(async (f) => parse((await onStatus(`builds/${f}`))!) as BuildRecord));
}

/** The multi-arch base: busybox for amd64 and arm64 in the candidate registry, and the index of both (Kiln's own assembly). */
async function pushSeed(registry: string): Promise<string> {
  const client = new RegistryClient({ tlsVerify: false });
  const armId = (await run('docker', ['image', 'inspect', '-f', '{{.Id}}', ARM64_IMAGE])).stdout.trim();
  const pushed = [
    { arch: 'amd64', digest: await client.pushFromDaemon(await importBusyboxImage(SEED_AMD64), byTag(registry, 'seed/busybox', 'amd64')) },
    { arch: 'arm64', digest: await client.pushFromDaemon(armId, byTag(registry, 'seed/busybox', 'arm64')) },
  ];
  const entries = await Promise.all(
    pushed.map(async (p) => {
      const m = await client.manifest(byDigest(registry, 'seed/busybox', p.digest));
      return { ...p, mediaType: m.mediaType, size: m.bytes.length };
    }),
  );
  const index = assembleIndex(entries);
  await client.putIndex(registry, 'seed/busybox', 'multi', index);
  return index.digest;
}

describe('oci multi-arch', { skip: (await dockerUnavailable('kiln/bookworm-buildd')) ?? (await dockerUnavailable(ARM64_IMAGE)) }, () => {
  before(async () => {
    stack = await startOciStack({
      label: 'oci-multiarch',
      candidateInsecure: false,
      architectures: ['amd64', 'arm64'],
      files: async ({ dir, cand, prod }) => {
        seedIndex = await pushSeed(cand.host);
        src = join(dir, 'images');
        await mkdir(src);
        await git(src, 'init', '-q', '-b', 'main');
        await commitFiles(
          src,
          {
            'hello/Dockerfile': 'FROM busybox\nRUN uname -m > /arch\nCMD ["cat", "/arch"]\n',
            'app/Dockerfile': 'FROM hello\nRUN cp /arch /base-arch\n',
          },
          'images',
        );
        return {
          'kiln.yaml': `${KILN_YAML}registries:\n  ${cand.host}:\n    insecure: true\n  ${prod.host}:\n    insecure: true\n`,
          'packages/hello.yaml': image('hello', `from: ${cand.host}/seed/busybox@${seedIndex}\nrelease: [candidate, production]\ntags: ['{version}', latest]\ntest: test "$(cat /arch)" = "$(uname -m)"\n`),
          'packages/app.yaml': image('app', 'from: hello\n'),
          'distributions/candidate.yaml': dist('candidate', cand.host),
          'distributions/production.yaml': dist('production', prod.host, 'promoteFrom: candidate\ngate: image-test\nkeep: 1\n'),
        };
      },
    });
  });
  after(async () => {
    if (stack) await untagRegistryImages([stack.cand.host, stack.prod.host]);
    await docker.getImage(SEED_AMD64).remove({ force: true }).catch(() => undefined);
    await stack?.close();
  });

  test('oci multi-arch - [amd64, arm64] is built per architecture, released as one index, gated in each image, promoted with its images, every tag signed; consumers pull either architecture', async () => {
    const { rec, dir, prod, cand, publicKey } = stack;
    const production = await until(
      async () => {
        await rec.runPass();
        const text = await onStatus(STATUS_LAYOUT.release('production'));
        const r = text ? (parse(text) as ReleaseRecord) : undefined;
        const built = (await records()).filter((b) => b.inputs.package === 'app' && b.state === 'succeeded');
        return r?.packages.some((p) => p.name === 'hello') && built.length === 2 ? r : undefined;
      },
      240_000,
      'hello promoted to production and app built for both architectures',
    );

    // One build per architecture, each FROM its own image of the base index, each image of its machine.
    const builds = (await records()).filter((b) => b.state === 'succeeded');
    const hello = Object.fromEntries(builds.filter((b) => b.inputs.package === 'hello').map((b) => [b.inputs.arch, b]));
    assert.deepEqual(Object.keys(hello).sort(), ['amd64', 'arm64']);
    const seed = JSON.parse((await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${cand.host}/seed/busybox@${seedIndex}`])).stdout) as { manifests: Array<{ digest: string; platform: { architecture: string } }> };
    for (const arch of ['amd64', 'arm64']) {
      assert.equal(hello[arch].inputs.recipe.oci?.from, `${cand.host}/seed/busybox@${seedIndex}`, 'the recipe names the base index (its digest is in the key)');
      const config = JSON.parse((await run('skopeo', ['inspect', '--config', '--tls-verify=false', `docker://${cand.host}/hello@${hello[arch].image!.manifestDigest}`])).stdout) as { architecture: string };
      assert.equal(config.architecture, arch, `the ${arch} build's image config`);
      assert.ok(seed.manifests.some((m) => m.platform.architecture === arch));
    }

    // The release records the index; every tag in both distributions names it.
    const index = production.indexes?.find((i) => i.package === 'hello');
    assert.ok(index, `releases/production.yaml records hello's index: ${JSON.stringify(production)}`);
    assert.deepEqual(index.manifests, { amd64: hello.amd64.image!.manifestDigest, arm64: hello.arm64.image!.manifestDigest });
    assert.equal(index.mediaType, DOCKER_MANIFEST_LIST);
    const rows = (production.tags ?? []).filter((t) => t.package === 'hello');
    assert.deepEqual(rows.map((t) => [t.tag, t.digest]), [['1.0-1', index.digest], ['latest', index.digest]]);
    assert.ok(rows.every((t) => t.signature), 'every tag signed');
    // …and on each image of the index: recorded per row, served in the lookaside, naming the tag and the image's digest.
    const key = await openpgp.readKey({ armoredKey: publicKey });
    for (const row of rows) {
      assert.deepEqual(row.imageSignatures?.map((i) => i.digest), [index.manifests.amd64, index.manifests.arm64], row.tag);
      for (const i of row.imageSignatures!) {
        const bytes = await readFile(join(dir, 'repos', 'production', 'sigstore', i.file));
        assert.equal(createHash('sha256').update(bytes).digest('hex'), i.sha256);
        const verified = await openpgp.verify({ message: await openpgp.readMessage({ binaryMessage: bytes }), verificationKeys: key, format: 'binary', expectSigned: true });
        assert.deepEqual(readPayload(verified.data as Uint8Array), { dockerReference: `${prod.host}/kiln/hello:${row.tag}`, digest: i.digest });
      }
    }
    const candidateRecord = parse((await onStatus(STATUS_LAYOUT.release('candidate')))!) as ReleaseRecord;
    assert.deepEqual(candidateRecord.indexes?.find((i) => i.package === 'hello'), index, 'the candidate release derived the same index');

    // skopeo sees, in production, an index of both platforms naming the per-architecture digests, with the recorded digest.
    const raw = (await run('skopeo', ['inspect', '--raw', '--tls-verify=false', `docker://${prod.host}/kiln/hello:1.0-1`])).stdout;
    assert.equal(`sha256:${createHash('sha256').update(raw).digest('hex')}`, index.digest);
    const served = JSON.parse(raw) as { mediaType: string; manifests: Array<{ digest: string; platform: { os: string; architecture: string } }> };
    assert.equal(served.mediaType, DOCKER_MANIFEST_LIST);
    assert.deepEqual(served.manifests.map((m) => [m.platform.os, m.platform.architecture, m.digest]), [
      ['linux', 'amd64', hello.amd64.image!.manifestDigest],
      ['linux', 'arm64', hello.arm64.image!.manifestDigest],
    ]);

    // The gate ran the test in each architecture's image.
    const gate = parse((await onStatus(STATUS_LAYOUT.gate('production', 'hello', '1.0-1')))!) as { verdict: string; reason: string };
    assert.equal(gate.verdict, 'passed');
    assert.match(gate.reason, /passed on linux\/amd64, linux\/arm64/);

    // A consumer requiring Kiln's signature accepts either architecture of the promoted tag; an unsigned tag is refused.
    await writeFile(join(dir, 'kiln.asc'), publicKey);
    const policy = consumerPolicy({ scopes: [prod.host], keyPath: join(dir, 'kiln.asc') });
    const copy = (ref: string, arch?: string) => consumerCopy({ workRoot: dir, registry: prod.host, lookasideUrl: `file://${join(dir, 'repos', 'production', 'sigstore')}`, policy, ref, arch });
    for (const arch of ['amd64', 'arm64']) {
      const accepted = await copy(`${prod.host}/kiln/hello:1.0-1`, arch);
      assert.ok(accepted.ok, `${arch}: ${accepted.stderr}`);
    }
    await new RegistryClient({ tlsVerify: false }).copy(byDigest(prod.host, 'kiln/hello', index.digest), byTag(prod.host, 'elsewhere/hello', 'unsigned'));
    const refused = await copy(`${prod.host}/elsewhere/hello:unsigned`, 'arm64');
    assert.equal(refused.ok, false);
    assert.match(refused.stderr, /signature|rejected|not signed/i);

    // Docker pulls the promoted arm64 image by the tag and runs it under qemu.
    const uname = await run('docker', ['run', '--rm', '--platform', 'linux/arm64', '--network', 'none', `${prod.host}/kiln/hello:1.0-1`, 'uname', '-m']);
    assert.equal(uname.stdout.trim(), 'aarch64');

    // Layered: app's build of each architecture is FROM hello's image of that architecture.
    for (const b of builds.filter((x) => x.inputs.package === 'app')) {
      assert.equal(b.inputs.recipe.oci?.from, `${cand.host}/hello@${hello[b.inputs.arch].image!.manifestDigest}`, b.inputs.arch);
    }

    // Re-derived, not duplicated: the candidate repository holds exactly one index, and a further pass changes nothing.
    const tags = JSON.parse((await run('skopeo', ['list-tags', '--tls-verify=false', `docker://${cand.host}/hello`])).stdout) as { Tags: string[] };
    assert.deepEqual(tags.Tags.filter((t) => t.startsWith('index-')), [`index-${index.digest.slice(7)}`]);
    const again = await rec.runPass();
    assert.deepEqual(again.plan?.actions.map((a) => a.kind) ?? [], []);
    first = index;
  });

  test('oci multi-arch - the index is derived again byte for byte from the same builds; an image of another platform is refused', async (t) => {
    if (!first) return t.skip('needs the release of the first test');
    const built = (await records()).filter((b) => b.inputs.package === 'hello' && b.state === 'succeeded');
    const keyOf = (arch: string) => built.find((b) => b.inputs.arch === arch)!.key;
    const unit = async (arch: string, image: unknown, version = '1.0-1') => {
      const path = join(stack.dir, `image-${arch}-${Math.random().toString(36).slice(2)}.json`);
      await writeFile(path, JSON.stringify(image));
      return { name: 'hello', version, arch, build: keyOf(arch), files: [{ name: 'image.json', sha256: '0'.repeat(64), size: 1, path }] };
    };
    const byArch = (arch: string) => built.find((b) => b.inputs.arch === arch)!.image;
    const client = new RegistryClient({ tlsVerify: false });
    const again = await versionImages(client, [await unit('arm64', byArch('arm64')), await unit('amd64', byArch('amd64'))]);
    assert.deepEqual(again.map((v) => v.index), [first]);
    // image.json written at collect records each manifest's size and platform: the same index, no reads.
    // Trusted as recorded (verified at collect): a recorded arm64 platform is not read again.
    const recorded = async (arch: string, image = byArch(arch)!, claims = arch) =>
      ({ ...image, manifestSize: (await client.manifest(byDigest(stack.cand.host, 'hello', image.manifestDigest))).bytes.length, platform: ociPlatform(claims)! });
    const fromRecords = await versionImages(client, [await unit('arm64', await recorded('arm64')), await unit('amd64', await recorded('amd64'))]);
    assert.deepEqual(fromRecords.map((v) => v.index), [first]);
    // {build} of the index: every architecture's build key, not the first's.
    assert.equal(again[0].build, indexBuildKey({ amd64: keyOf('amd64'), arm64: keyOf('arm64') }));
    // A registry error of one version names that version (the publish step leaves out only it).
    const missing = { ...byArch('arm64')!, manifestDigest: `sha256:${'e'.repeat(64)}` };
    const good = [await unit('amd64', byArch('amd64')), await unit('arm64', byArch('arm64'))];
    await assert.rejects(versionImages(client, [...good, await unit('amd64', byArch('amd64'), '9.9-1'), await unit('arm64', missing, '9.9-1')]), (e: unknown) => isKilnError(e) && e.data.package === 'hello' && e.data.version === '9.9-1');
    const tags = JSON.parse((await run('skopeo', ['list-tags', '--tls-verify=false', `docker://${stack.cand.host}/hello`])).stdout) as { Tags: string[] };
    assert.equal(tags.Tags.filter((x) => x.startsWith('index-')).length, 1, 'the same index, not a second one');
    const trusted = await versionImages(client, [await unit('amd64', await recorded('amd64')), await unit('arm64', await recorded('arm64', byArch('amd64'), 'arm64'))]);
    assert.equal(trusted[0].index?.manifests.arm64, byArch('amd64')!.manifestDigest, 'the recorded platform, not a registry read');
    // An agent of a platform the base index lacks fails the build with that reason, before building anything.
    const limits = { memoryMiB: 256, cpus: 1, pids: 256, timeoutSeconds: 60 };
    const spec = { sourceDir: src, context: 'hello', dockerfile: 'hello/Dockerfile', base: `${stack.cand.host}/seed/busybox@${seedIndex}`, platform: ociPlatform('s390x')!, push: byTag(stack.cand.host, 'hello', 'never') };
    const lacking = await buildOciImage(docker, client, spec, limits, { onLog: () => undefined });
    assert.deepEqual(lacking, { ok: false, class: 'build', reason: `the base image ${spec.base} is an index with no image for linux/s390x` });
    // An arm64 unit whose image is the amd64 one: no index claims it is arm64.
    await assert.rejects(versionImages(client, [await unit('amd64', byArch('amd64')), await unit('arm64', byArch('amd64'))]), (e: unknown) => e instanceof PublishInputError && /the arm64 build's image is linux\/amd64, not linux\/arm64/.test(e.message) && e.data.version === '1.0-1');
  });

  test('oci multi-arch - a tag moved by hand off the index is drift and restored; a new version prunes the old index with its images', async (t) => {
    if (!first) return t.skip('needs the release of the first test');
    const { rec, prod, repoDir } = stack;
    const client = new RegistryClient({ tlsVerify: false });
    const latest = byTag(prod.host, 'kiln/hello', 'latest');
    // Someone points latest at the arm64 image alone.
    await client.setTag({ ...byDigest(prod.host, 'kiln/hello', first.manifests.arm64), digest: first.manifests.arm64 }, 'latest');
    const report = await rec.runPass();
    const republish = report.plan?.actions.find((a) => a.kind === 'republish' && a.distribution === 'production');
    assert.match(republish?.message ?? '', new RegExp(`kiln/hello:latest points at ${first.manifests.arm64}.*moved by hand`));
    assert.equal(await client.resolveTag(latest), first.digest, 'restored to the index');

    // A new version: production keeps 1, so 1.0-1 goes, its index and both of its images with it.
    await commitFiles(repoDir, { 'packages/hello.yaml': hello('1.1-1') }, 'hello 1.1-1');
    const production = await until(
      async () => {
        await rec.runPass();
        const r = parse((await onStatus(STATUS_LAYOUT.release('production')))!) as ReleaseRecord;
        return r.packages.map((p) => `${p.name} ${p.version}`).join() === 'hello 1.1-1' ? r : undefined;
      },
      240_000,
      'hello 1.1-1 in production, 1.0-1 pruned',
    );
    const next = production.indexes?.find((i) => i.version === '1.1-1');
    assert.ok(next);
    assert.equal(await client.resolveTag(latest), next.digest);
    const tags = JSON.parse((await run('skopeo', ['list-tags', '--tls-verify=false', `docker://${prod.host}/kiln/hello`])).stdout) as { Tags: string[] };
    assert.deepEqual(tags.Tags.sort(), ['1.1-1', 'latest']);
    for (const digest of [first.digest, first.manifests.amd64, first.manifests.arm64]) {
      await assert.rejects(client.manifest(byDigest(prod.host, 'kiln/hello', digest)), (e: unknown) => e instanceof ImageNotFoundError, `${digest} deleted from production`);
    }
    for (const digest of [next.digest, next.manifests.amd64, next.manifests.arm64]) assert.equal((await client.manifest(byDigest(prod.host, 'kiln/hello', digest))).digest, digest);
    second = next;
  });

  /** hello at `version`, built from the `subdir` of the image sources (committed with `dockerfile`). */
  const helloFrom = async (version: string, subdir: string, dockerfile: string) => {
    await commitFiles(src, { [`${subdir}/Dockerfile`]: dockerfile }, subdir);
    await commitFiles(stack.repoDir, { 'packages/hello.yaml': hello(version).replace('subdir: hello }', `subdir: ${subdir} }`) }, `hello ${version}`);
  };
  const indexTags = async () => (JSON.parse((await run('skopeo', ['list-tags', '--tls-verify=false', `docker://${stack.cand.host}/hello`])).stdout) as { Tags: string[] }).Tags.filter((x) => x.startsWith('index-')).sort();

  test('oci multi-arch - a version whose arm64 build fails is not released: production keeps the previous index and tags, the failure is recorded with its reason', async (t) => {
    if (!second) return t.skip('needs the release of the third test');
    const { rec, prod } = stack;
    await helloFrom('1.2-1', 'hello-armfail', 'FROM busybox\nRUN [ "$(uname -m)" != aarch64 ]\nRUN uname -m > /arch\nCMD ["cat", "/arch"]\n');
    const failed = await until(
      async () => {
        await rec.runPass();
        const mine = (await records()).filter((b) => b.inputs.package === 'hello' && b.inputs.version === '1.2-1');
        const arm = mine.find((b) => b.inputs.arch === 'arm64' && b.state === 'failed' && !b.retryAt);
        return arm && mine.some((b) => b.inputs.arch === 'amd64' && b.state === 'succeeded') ? arm : undefined;
      },
      240_000,
      'hello 1.2-1 built on amd64 and finally failed on arm64',
    );
    assert.equal(failed.failure?.class, 'build');
    assert.match(failed.failure?.reason ?? '', /uname -m.*aarch64.*non-zero code|returned a non-zero code/s, `the failed step is named: ${failed.failure?.reason}`);
    // A further pass settles: nothing of 1.2-1 reaches either distribution.
    await rec.runPass();
    for (const name of ['candidate', 'production']) {
      const r = parse((await onStatus(STATUS_LAYOUT.release(name)))!) as ReleaseRecord;
      assert.ok(!r.packages.some((p) => p.name === 'hello' && p.version === '1.2-1') && !r.indexes?.some((i) => i.version === '1.2-1'), `${name}: ${JSON.stringify(r.packages)}`);
      if (name === 'production') assert.deepEqual(r.indexes?.filter((i) => i.package === 'hello'), [second]);
    }
    const client = new RegistryClient({ tlsVerify: false });
    assert.equal(await client.resolveTag(byTag(prod.host, 'kiln/hello', 'latest')), second.digest, 'latest still names the previous index');
    assert.equal(await client.resolveTag(byTag(prod.host, 'kiln/hello', '1.1-1')), second.digest);
    const tags = JSON.parse((await run('skopeo', ['list-tags', '--tls-verify=false', `docker://${prod.host}/kiln/hello`])).stdout) as { Tags: string[] };
    assert.deepEqual(tags.Tags.sort(), ['1.1-1', 'latest']);
  });

  test('oci multi-arch - a pass killed after the index put and before the record: nothing recorded, the next pass records the same index digest, one index tag; the index is put only when a release copies it', async (t) => {
    if (!second) return t.skip('needs the release of the third test');
    const { rec, prod } = stack;
    const before = await indexTags();
    // Failpoint: the first putIndex goes through, then the pass dies (a plain Error, as a crash: nothing after it runs).
    const putIndex = RegistryClient.prototype.putIndex;
    const puts: string[] = [];
    let armed = true;
    RegistryClient.prototype.putIndex = async function (this: RegistryClient, ...args: Parameters<typeof putIndex>) {
      await putIndex.apply(this, args);
      puts.push(args[3].digest);
      if (armed) {
        armed = false;
        throw new Error('failpoint: crash after putIndex');
      }
    };
    t.after(() => {
      RegistryClient.prototype.putIndex = putIndex;
    });
    await helloFrom('1.3-1', 'hello-b', 'FROM busybox\nRUN uname -m > /arch\nRUN echo b > /variant\nCMD ["cat", "/arch"]\n');
    await until(
      async () => {
        await rec.runPass().catch((e: unknown) => {
          if (!/failpoint/.test((e as Error).message)) throw e;
        });
        return !armed || undefined;
      },
      240_000,
      'hello 1.3-1 built for both architectures and its index put',
    );
    const [put] = puts;
    assert.deepEqual(await indexTags(), [...before, indexTag(put)].sort(), 'the index is in the candidate under its tag');
    for (const name of ['candidate', 'production']) {
      const r = parse((await onStatus(STATUS_LAYOUT.release(name)))!) as ReleaseRecord;
      assert.ok(!r.packages.some((p) => p.name === 'hello' && p.version === '1.3-1'), `${name} records no release of 1.3-1`);
    }
    const production = await until(
      async () => {
        await rec.runPass();
        const r = parse((await onStatus(STATUS_LAYOUT.release('production')))!) as ReleaseRecord;
        return r.packages.some((p) => p.name === 'hello' && p.version === '1.3-1') ? r : undefined;
      },
      240_000,
      'hello 1.3-1 in production after the crash',
    );
    const candidate = parse((await onStatus(STATUS_LAYOUT.release('candidate')))!) as ReleaseRecord;
    for (const r of [candidate, production]) assert.equal(r.indexes?.find((i) => i.version === '1.3-1')?.digest, put, `${r.distribution} records the index put before the crash`);
    assert.deepEqual(await indexTags(), [...before, indexTag(put)].sort(), 'no second index tag');
    assert.equal(await new RegistryClient({ tlsVerify: false }).resolveTag(byTag(prod.host, 'kiln/hello', 'latest')), put);
    // Put only when copied: a pass with nothing to copy puts nothing.
    const count = puts.length;
    await rec.runPass();
    assert.equal(puts.length, count, 'no index put when nothing is copied');
  });
});
