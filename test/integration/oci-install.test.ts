// The install: phase of an oci build on real parts: a Kiln apt repository
// (publishApt, signed, served over HTTP on loopback), apt in a container of the
// builder image fetching the named packages from it alone, Docker's builder
// (RUN with no network) and a Debian docker-registry as the candidate. The
// image gets the .debs in its context's .kiln-debs/; a package Kiln's repository
// does not have fails the build with apt's reason, even when the Debian archive has it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { buildOciImage, type OciBuildSpec } from '../../agents/oci-build.ts';
import { byTag } from '../../oci/image-ref.ts';
import { RegistryClient } from '../../oci/registry-client.ts';
import { keyFileName, publishApt } from '../../reconciler/publish/index.ts';
import { startRepoServer, type RepoServer } from '../../reconciler/serve/repo-server.ts';
import { generateKey, loadSigner } from '../../reconciler/signing/signer.ts';
import type { AptSource, ResolvedLimits } from '../../schema/messages.ts';
import type { OciImage } from '../../schema/oci.ts';
import { BASE_IMAGE, docker, dockerUnavailable, untagRegistryImages } from '../helpers/docker.ts';
import { aptDistribution } from '../helpers/distribution.ts';
import { writeDeb } from '../helpers/deb.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { writeBusyboxRootfs } from '../helpers/tiny-image.ts';

const run = promisify(execFile);
const limits: ResolvedLimits = { memoryMiB: 512, cpus: 1, pids: 256, timeoutSeconds: 180 };
const registry = new RegistryClient({ tlsVerify: false });

let dir: string;
let src: string;
let cand: TestRegistry;
let repos: RepoServer;
let source: AptSource;
let base: OciImage;

async function build(spec: Omit<OciBuildSpec, 'sourceDir'>) {
  let log = '';
  const outcome = await buildOciImage(docker, registry, { sourceDir: src, ...spec }, limits, { onLog: (b) => (log += b.toString()) });
  return { outcome, log };
}

describe('oci install phase', { skip: await dockerUnavailable(BASE_IMAGE) }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-oci-install-'));
    await chmod(dir, 0o755);
    src = join(dir, 'src');
    const root = join(dir, 'repos');
    await mkdir(join(src, 'base'), { recursive: true });
    await mkdir(join(src, 'app'), { recursive: true });
    await mkdir(root, { recursive: true });
    await mkdir(join(dir, 'debs'));
    cand = await startRegistry('candidate');
    // Kiln's repository: one package, signed like every published distribution.
    const signer = await loadSigner((await generateKey({ name: 'Kiln Install Test', email: 'install@kiln.invalid' })).privateKeyArmored);
    const deb = await writeDeb(join(dir, 'debs'), { name: 'hello-kiln', version: '1.0-1', script: 'echo hello' });
    const dist = aptDistribution('testing', { suite: 'testing', codename: 'testing', architectures: ['amd64'] });
    await publishApt({ root, distribution: dist, packages: [{ name: 'hello-kiln', version: '1.0-1', arch: 'amd64', files: [{ name: deb.name, sha256: deb.sha256, size: deb.size, path: deb.path }] }], signer, now: new Date() });
    repos = await startRepoServer({ root, host: '127.0.0.1', port: 0 });
    source = { distribution: 'testing', url: `${repos.url}/testing`, suite: 'testing', components: ['main'], key: await readFile(join(root, 'testing', keyFileName('testing')), 'utf8') };

    await writeBusyboxRootfs(join(src, 'base'));
    await writeFile(join(src, 'base', 'Dockerfile'), 'FROM scratch\nADD rootfs.tar /\nENV PATH=/bin\n');
    await writeFile(join(src, 'app', 'Dockerfile'), 'FROM base\nCOPY .kiln-debs/ /debs/\nRUN ls /debs > /debs.txt\n');
    const b = await build({ context: 'base', dockerfile: 'base/Dockerfile', push: byTag(cand.host, 'base', 'build-1') });
    assert.ok(b.outcome.ok, b.log);
    base = b.outcome.image;
  });
  after(async () => {
    await repos?.close();
    if (cand) await untagRegistryImages([cand.host]);
    await cand?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('oci install - the named packages come from Kiln\'s signed repository into .kiln-debs/ of the network-less build', async () => {
    const { outcome, log } = await build({
      context: 'app',
      dockerfile: 'app/Dockerfile',
      base: `${base.repository}@${base.manifestDigest}`,
      push: byTag(cand.host, 'app', 'build-1'),
      install: { packages: ['hello-kiln'], source, image: BASE_IMAGE },
    });
    assert.ok(outcome.ok, log);
    assert.match(log, /kiln: fetching hello-kiln from http:\/\/127\.0\.0\.1:\d+\/testing testing into \.kiln-debs\//);
    const { stdout } = await run('docker', ['run', '--rm', '--network', 'none', `${outcome.image.repository}@${outcome.image.manifestDigest}`, 'cat', '/debs.txt']);
    assert.match(stdout, /^hello-kiln_1\.0-1_\w+\.deb$/m);
  });

  test('oci install - a package Kiln\'s repository does not have fails the build with apt\'s reason (the Debian archive is not asked)', async () => {
    const { outcome, log } = await build({
      context: 'app',
      dockerfile: 'app/Dockerfile',
      base: `${base.repository}@${base.manifestDigest}`,
      push: byTag(cand.host, 'app', 'build-2'),
      install: { packages: ['busybox'], source, image: BASE_IMAGE },
    });
    assert.equal(outcome.ok, false, log);
    assert.ok(!outcome.ok && outcome.class === 'build');
    assert.match(!outcome.ok ? outcome.reason : '', /cannot fetch install: packages from http:\/\/127\.0\.0\.1:\d+\/testing testing: E: .*busybox/);
  });
});
