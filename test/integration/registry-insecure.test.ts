// Plain-http registries declared in kiln.yaml (`registries.<host>.insecure`), on
// real parts: two Debian docker-registry instances on loopback (candidate and
// production, both plain http), skopeo as the independent client. The release
// target speaks TLS to every host kiln.yaml does not declare: a declared
// candidate and production promote; an undeclared candidate is refused (skopeo
// tried https) and production stays empty. Each side of a copy gets its own flag.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { byTag } from '../../oci/image-ref.ts';
import { RegistryClient } from '../../oci/registry-client.ts';
import { normaliseConfig, normaliseDistribution } from '../../reconciler/desired/normalise.ts';
import { parseFile } from '../../reconciler/desired/parse-file.ts';
import type { RegistryDistribution } from '../../reconciler/model.ts';
import { registryTarget } from '../../reconciler/release-targets/registry/registry-target.ts';
import type { ReleaseUnit } from '../../reconciler/release-targets/target.ts';
import { RegistryError } from '../../schema/errors.ts';
import { docker, dockerUnavailable } from '../helpers/docker.ts';
import { runKiln } from '../helpers/cli.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { makeTestKey, type TestKey } from '../helpers/signed-repo.ts';
import { importBusyboxImage } from '../helpers/tiny-image.ts';

const run = promisify(execFile);
const enc = (s: string) => new TextEncoder().encode(s);
const IMAGE = `kiln-test/registry-insecure:${process.pid}`;
let cand: TestRegistry;
let prod: TestRegistry;
let key: TestKey;
let dir: string;
let unit: ReleaseUnit;

/** The distribution as the reconciler reads it: kiln.yaml and distributions/images.yaml through parse and normalise. */
function distribution(kilnYaml: string): RegistryDistribution {
  const config = normaliseConfig(parseFile('kiln.yaml', 'config', enc(kilnYaml)).doc as never);
  const doc = parseFile('distributions/images.yaml', 'distribution', enc(`name: images\nformat: registry\nurl: ${prod.host}\nrepository: kiln\narchitectures: [amd64]\n`)).doc;
  return normaliseDistribution('distributions/images.yaml', doc as never, config) as RegistryDistribution;
}

const apply = (dist: RegistryDistribution) => registryTarget.apply({ root: join(dir, 'repos'), distribution: dist, units: [unit], signer: key.signer, now: new Date() });

describe('registry insecure', { skip: await dockerUnavailable('kiln/bookworm-buildd') }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-registry-insecure-'));
    [cand, prod, key] = await Promise.all([startRegistry('candidate'), startRegistry('production'), makeTestKey('kiln-release')]);
    const setup = new RegistryClient({ tlsVerify: false });
    const digest = await setup.pushFromDaemon(await importBusyboxImage(IMAGE), byTag(cand.host, 'kiln/app', 'build-1'));
    const text = JSON.stringify(await setup.inspect({ registry: cand.host, repository: 'kiln/app', digest }));
    const path = join(dir, 'image.json');
    await mkdir(dir, { recursive: true });
    await writeFile(path, text);
    unit = { name: 'app', version: '1.0-1', arch: 'amd64', files: [{ name: 'image.json', path, size: Buffer.byteLength(text), sha256: createHash('sha256').update(text).digest('hex') }] };
  });
  after(async () => {
    await Promise.all([cand?.dispose(), prod?.dispose()]);
    await docker.getImage(IMAGE).remove({ force: true }).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('registry insecure - an undeclared plain-http candidate is refused (TLS is the default) and production stays empty', async () => {
    const dist = distribution(`registries:\n  ${prod.host}:\n    insecure: true\n`);
    const e = await apply(dist).then(() => undefined, (x: unknown) => x);
    assert.ok(e instanceof RegistryError, String(e));
    assert.match(e.message, /HTTP response to HTTPS client|http: server gave HTTP/i);
    const { stdout } = await run('skopeo', ['list-tags', '--tls-verify=false', `docker://${prod.host}/kiln/app`]).catch((x: { stdout?: string; stderr?: string }) => ({ stdout: x.stderr ?? '' }));
    assert.doesNotMatch(stdout, /1\.0-1/);
  });

  test('registry insecure - candidate and production declared in kiln.yaml registries promote; skopeo sees the digest in production', async () => {
    const dist = distribution(`registries:\n  ${cand.host}:\n    insecure: true\n  ${prod.host}:\n    insecure: true\n`);
    assert.equal(dist.insecure, true);
    const report = await apply(dist);
    assert.equal(report.changed, true);
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${prod.host}/kiln/app:1.0-1`]);
    assert.equal(stdout.trim(), report.tags?.[0].digest);
  });

  test('registry insecure - insecure: true on an https registry with a self-signed certificate: tags listed, read and moved (skopeo tries https)', async () => {
    const https = await startRegistry('selfsigned', { tls: true });
    try {
      const client = new RegistryClient({ tlsVerify: false });
      const digest = await client.pushFromDaemon(await importBusyboxImage(IMAGE), byTag(https.host, 'kiln/app', 'build-1'));
      assert.deepEqual(await client.listTags(https.host, 'kiln/app'), ['build-1']);
      assert.equal((await client.inspect(byTag(https.host, 'kiln/app', 'build-1'))).manifestDigest, digest);
      await client.setTag({ registry: https.host, repository: 'kiln/app', digest }, '1.0-1');
      const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${https.host}/kiln/app:1.0-1`]);
      assert.equal(stdout.trim(), digest);
    } finally {
      await https.dispose();
    }
  });
});

test('registry insecure - kiln agent --insecure-registry takes HOST[:PORT]; anything else is a usage error before connecting', async () => {
  const r = await runKiln(['agent', '--nats', 'nats://127.0.0.1:1', '--candidate-registry', 'cand.lan:5000', '--insecure-registry', 'http://cand.lan/']);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--insecure-registry takes HOST\[:PORT\], got 'http:\/\/cand\.lan\/'/);
});
