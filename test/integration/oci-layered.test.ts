// kiln-test: alone (scripts/test runs it after the others, one at a time)
// Layered images through real reconcile passes: nats-server, an agent with the
// oci runner (Docker's builder), a Debian docker-registry as the candidate
// registry, skopeo as the independent client. `app` is declared `from: base`:
// the pass builds base first, then app FROM the digest base's build pushed (in
// app's key and on its build record); a new base (a new digest) rebuilds app;
// skopeo sees app's layers start with base's layers, each time.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { parse } from 'yaml';
import type { Agent } from '../../agents/agent.ts';
import type { Reconciler } from '../../reconciler/reconciler-setup.ts';
import { STATUS_BRANCH, type BuildRecord } from '../../schema/status.ts';
import { docker, dockerUnavailable, untagRegistryImages } from '../helpers/docker.ts';
import { commitFiles, git, makeRepo, writeFiles } from '../helpers/git.ts';
import { startNats, type NatsServer } from '../helpers/nats.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { startOciLoop } from '../helpers/oci-loop.ts';
import { importBusyboxImage, writeBusyboxRootfs } from '../helpers/tiny-image.ts';
import { until } from '../helpers/until.ts';

const run = promisify(execFile);

const KILN_YAML = 'trust:\n  keys: []\n  requireSignedCommits: false\npools:\n  oci:\n    architectures: [amd64]\ndefaults:\n  pool: oci\n  image: kiln/bookworm-buildd\n  maxAttempts: 2\n';
const pkg = (name: string, version: string, src: string, extra = '') => `name: ${name}\nversion: ${version}\nformat: oci\nsource: { git: ${src}, ref: main, subdir: ${name} }\narchitectures: [amd64]\n${extra}`;

const SEED = `kiln-test/layered-seed:${process.pid}`;
let dir: string;
let src: string;
let nats: NatsServer;
let nc: NatsConnection;
let cand: TestRegistry;
let rec: Reconciler;
let agent: Agent;
let repoDir: string;

async function records(): Promise<BuildRecord[]> {
  const { stdout } = await run('git', ['-C', repoDir, 'ls-tree', '--name-only', `${STATUS_BRANCH}:builds`]).catch(() => ({ stdout: '' }));
  const out: BuildRecord[] = [];
  for (const f of stdout.split('\n').filter((x) => x.endsWith('.yaml'))) out.push(parse((await run('git', ['-C', repoDir, 'show', `${STATUS_BRANCH}:builds/${f}`])).stdout) as BuildRecord);
  return out;
}

/** Passes until a build of `name` that `which` picks has succeeded (a failure ends the wait with its reason). */
async function builtRecord(name: string, which: (r: BuildRecord) => boolean, what: string): Promise<BuildRecord> {
  return until(
    async () => {
      await rec.runPass();
      const r = (await records()).find((x) => x.inputs.package === name && which(x));
      if (r?.state === 'failed') throw new Error(`${name} failed: ${JSON.stringify(r.failure)}`);
      return r?.state === 'succeeded' ? r : undefined;
    },
    240_000,
    what,
  );
}
const ofVersion = (name: string, version: string) => builtRecord(name, (r) => r.inputs.version === version, `a succeeded build of ${name} ${version} on kiln/status`);
const rebuildOf = (old: BuildRecord) => builtRecord(old.inputs.package, (r) => r.key !== old.key, `a rebuild of ${old.inputs.package}`);

const layersOf = async (ref: string) => (JSON.parse((await run('skopeo', ['inspect', '--tls-verify=false', `docker://${ref}`])).stdout) as { Layers: string[] }).Layers;

describe('oci layered', { skip: await dockerUnavailable('kiln/bookworm-buildd') }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-oci-layered-'));
    [nats, cand] = await Promise.all([startNats(), startRegistry('candidate')]);
    nc = await connect({ servers: nats.url, name: 'test-agent' });
    src = join(dir, 'images');
    await mkdir(join(src, 'base'), { recursive: true });
    await writeBusyboxRootfs(join(src, 'base'));
    await writeFiles(src, {
      'base/Dockerfile': 'FROM scratch\nADD rootfs.tar /\nENV PATH=/bin\nCMD ["sh"]\n',
      // The FROM line names the base by tag as a developer writes it; Kiln pins it to the digest.
      'app/Dockerfile': 'FROM kiln/base:latest\nRUN echo hello-kiln > /hello.txt\nCMD ["cat", "/hello.txt"]\n',
    });
    await git(src, 'init', '-q', '-b', 'main');
    await commitFiles(src, {}, 'images');
    const repo = await makeRepo({
      'kiln.yaml': KILN_YAML,
      'packages/base.yaml': pkg('base', '1.0-1', src),
      'packages/app.yaml': pkg('app', '2.0-1', src, 'from: base\ntest: test "$(cat /hello.txt)" = hello-kiln\n'),
    });
    repoDir = repo.dir;
    ({ rec, agent } = await startOciLoop({ dir, repoDir, natsUrl: nats.url, nc, candidate: cand.host, label: 'oci-layered', policy: { sourceRefreshMs: 0 } }));
  });
  after(async () => {
    await agent?.close({ hard: true }).catch(() => undefined);
    await rec?.close();
    await nc?.close();
    // The agent keeps pulled bases as a cache: ours go with the registry.
    await docker.getImage(SEED).remove({ force: true }).catch(() => undefined);
    if (cand) await untagRegistryImages([cand.host]);
    await Promise.all([nats?.dispose(), cand?.dispose()]);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('oci layered - the app is built FROM the digest its base build pushed; a new base rebuilds the app; its layers start with the base layers', async () => {
    const base1 = await ofVersion('base', '1.0-1');
    const app1 = await ofVersion('app', '2.0-1');
    assert.ok(base1.image && app1.image);
    const baseRef1 = `${cand.host}/base@${base1.image.manifestDigest}`;
    assert.equal(app1.inputs.recipe.oci?.from, baseRef1, "the app's build record names its base by digest (part of its key)");
    const baseLayers1 = await layersOf(baseRef1);
    const appLayers1 = await layersOf(`${cand.host}/app@${app1.image.manifestDigest}`);
    assert.deepEqual(appLayers1.slice(0, baseLayers1.length), baseLayers1, "the app's layers start with the base's");
    assert.equal(appLayers1.length, baseLayers1.length + 1, 'plus the RUN layer');

    // A new base: another source commit and version. Its build pushes a new digest; the app is rebuilt FROM it.
    await commitFiles(src, { 'base/Dockerfile': 'FROM scratch\nADD rootfs.tar /\nRUN mkdir -p /etc && echo 2 > /etc/base-release\nENV PATH=/bin\nCMD ["sh"]\n' }, 'base 1.1');
    await commitFiles(repoDir, { 'packages/base.yaml': pkg('base', '1.1-1', src) }, 'base 1.1-1');
    const base2 = await ofVersion('base', '1.1-1');
    assert.ok(base2.image);
    assert.notEqual(base2.image.manifestDigest, base1.image.manifestDigest);
    const rebuilt = await rebuildOf(app1);
    const baseRef2 = `${cand.host}/base@${base2.image.manifestDigest}`;
    assert.equal(rebuilt.inputs.recipe.oci?.from, baseRef2);
    assert.equal(rebuilt.inputs.version, '2.0-1', 'the same app version, rebuilt');
    const baseLayers2 = await layersOf(baseRef2);
    const appLayers2 = await layersOf(`${cand.host}/app@${rebuilt.image!.manifestDigest}`);
    assert.deepEqual(appLayers2.slice(0, baseLayers2.length), baseLayers2);
    assert.equal(appLayers2.length, baseLayers2.length + 1);

    // Converged: another pass dispatches nothing.
    const again = await rec.runPass();
    assert.deepEqual(again.plan?.actions.filter((a) => a.kind === 'build') ?? [], []);
  });

  test('oci layered - from: HOST/REPO:TAG waits until the tag exists, is built FROM its digest, and a moved tag rebuilds', async () => {
    const tag = `${cand.host}/seed/busybox:v1`;
    await commitFiles(src, { 'tools/Dockerfile': 'FROM seed\nRUN echo tools > /tools.txt\n' }, 'tools');
    await commitFiles(repoDir, { 'packages/tools.yaml': pkg('tools', '1.0-1', src, `from: ${tag}\n`) }, 'tools FROM a tag');
    const waiting = await rec.runPass();
    const wait = waiting.plan?.waiting.find((w) => w.subject.startsWith('build tools/'));
    assert.match(wait?.message ?? '', /waits for its base image .*seed\/busybox:v1: the registry has no such tag/);
    assert.ok(wait?.until, 'the wait ends by itself: the tag is looked up again');

    await importBusyboxImage(SEED);
    const push = async () => (await run('skopeo', ['copy', '--dest-tls-verify=false', `docker-daemon:${SEED}`, `docker://${tag}`]), (await run('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${tag}`])).stdout.trim());
    const seed1 = await push();
    const tools1 = await ofVersion('tools', '1.0-1');
    assert.equal(tools1.inputs.recipe.oci?.from, `${cand.host}/seed/busybox@${seed1}`, 'built FROM the digest the tag named, recorded');

    // The tag moves (another image under it): the next passes rebuild tools FROM the new digest.
    const ctx = join(dir, 'moved');
    await mkdir(ctx, { recursive: true });
    await writeFile(join(ctx, 'Dockerfile'), `FROM ${SEED}\nLABEL moved=1\n`);
    await run('docker', ['build', '-q', '-t', SEED, ctx]);
    const seed2 = await push();
    assert.notEqual(seed2, seed1);
    const tools2 = await rebuildOf(tools1);
    assert.equal(tools2.inputs.recipe.oci?.from, `${cand.host}/seed/busybox@${seed2}`);
  });
});
