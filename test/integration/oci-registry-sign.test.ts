// OCI registry client and image signing on real parts: two Debian docker-registry
// instances (candidate, production), skopeo, Docker (to make a tiny image), and
// skopeo as the independent consumer verifying Kiln's "simple signing" signatures
// with a policy.json that requires Kiln's key, through `kiln serve`'s file server.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { byDigest, byTag } from '../../oci/image-ref.ts';
import { consumerPolicy } from '../../oci/consumer-policy.ts';
import { signedReferences, signTag } from '../../oci/lookaside.ts';
import { RegistryClient } from '../../oci/registry-client.ts';
import { startRepoServer, type RepoServer } from '../../reconciler/serve/repo-server.ts';
import { DigestMismatchError, ImageNotFoundError, RegistryError } from '../../schema/errors.ts';
import { consumerCopy as copyAsConsumer } from '../helpers/consumer-copy.ts';
import { docker, dockerUnavailable } from '../helpers/docker.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { makeTestKey, type TestKey } from '../helpers/signed-repo.ts';
import { importBusyboxImage } from '../helpers/tiny-image.ts';

const run = promisify(execFile);

const IMAGE = `kiln-test/oci-busybox:${process.pid}`;

let cand: TestRegistry;
let prod: TestRegistry;
let dir: string;
let key: TestKey;
let other: TestKey;
let server: RepoServer;
let digest: string;
const client = new RegistryClient({ tlsVerify: false });

/** `skopeo copy` as a consumer would run it, through kiln serve's lookaside. */
const consumerCopy = (ref: string, policy: object) => copyAsConsumer({ workRoot: dir, registry: prod.host, lookasideUrl: `${server.url}/sigstore`, policy, ref });

describe('oci registry and signing', { skip: await dockerUnavailable('kiln/bookworm-buildd') }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-oci-sign-'));
    [cand, prod, key, other] = await Promise.all([startRegistry('candidate'), startRegistry('production'), makeTestKey('kiln-release'), makeTestKey('someone-else')]);
    await writeFile(join(dir, 'kiln.asc'), key.publicKeyArmored);
    await writeFile(join(dir, 'other.asc'), other.publicKeyArmored);
    await mkdir(join(dir, 'repos', 'sigstore'), { recursive: true });
    server = await startRepoServer({ root: join(dir, 'repos'), host: '127.0.0.1', port: 0 });
    const id = await importBusyboxImage(IMAGE);
    digest = await client.pushFromDaemon(id, byTag(cand.host, 'kiln/busybox', 'build-1'));
  });
  after(async () => {
    await server?.close();
    await Promise.all([cand?.dispose(), prod?.dispose()]);
    await docker.getImage(IMAGE).remove({ force: true }).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('registry - inspect names manifest digest, config digest, layers and size', async () => {
    const img = await client.inspect(byDigest(cand.host, 'kiln/busybox', digest));
    assert.equal(img.manifestDigest, digest);
    assert.match(img.configDigest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(img.layers.length, 1);
    assert.ok(img.size > img.layers[0].size);
    assert.equal((await client.inspect(byTag(cand.host, 'kiln/busybox', 'build-1'))).manifestDigest, digest);
  });

  test('registry - promotion copies by digest, then moves tags; skopeo inspect sees the same digest', async () => {
    const copied = await client.copy(byDigest(cand.host, 'kiln/busybox', digest), byDigest(prod.host, 'kiln/busybox', digest));
    assert.equal(copied, digest);
    await client.setTag({ ...byDigest(prod.host, 'kiln/busybox', digest), digest }, '1.0');
    await client.setTag({ ...byDigest(prod.host, 'kiln/busybox', digest), digest }, 'latest');
    assert.deepEqual(await client.listTags(prod.host, 'kiln/busybox'), ['1.0', 'latest']);
    const { stdout } = await run('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${prod.host}/kiln/busybox:1.0`]);
    assert.equal(stdout.trim(), digest);
  });

  test('registry - a repository that does not exist has no tags; a missing digest is ImageNotFoundError', async () => {
    assert.deepEqual(await client.listTags(prod.host, 'kiln/nothing'), []);
    const missing = 'sha256:' + '0'.repeat(64);
    await assert.rejects(client.inspect(byDigest(prod.host, 'kiln/busybox', missing)), ImageNotFoundError);
    await assert.rejects(client.copy(byDigest(cand.host, 'kiln/busybox', missing), byDigest(prod.host, 'kiln/busybox', missing)), ImageNotFoundError);
  });

  test('registry - asking for a digest the registry does not serve under that content is an integrity failure', async () => {
    // Tamper with the stored manifest blob: the registry now serves bytes that do not hash to the digest.
    const hex = digest.slice('sha256:'.length);
    const blob = join(cand.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    const original = await readFile(blob);
    await writeFile(blob, Buffer.from(' ' + original.toString()));
    try {
      const e = await client.inspect(byDigest(cand.host, 'kiln/busybox', digest)).then(() => undefined, (x: unknown) => x);
      assert.ok(e instanceof DigestMismatchError || (e instanceof RegistryError && /digest/i.test(e.message)), `got ${String(e)}`);
      assert.equal((e as RegistryError).kind, 'terminal');
    } finally {
      await writeFile(blob, original);
    }
  });

  test('registry - a registry that is down is a transient RegistryError', async () => {
    const down = await startRegistry('down');
    await down.dispose();
    const e = await client.listTags(down.host, 'kiln/busybox').then(() => undefined, (x: unknown) => x);
    assert.ok(e instanceof RegistryError, String(e));
    assert.equal(e.kind, 'transient');
    assert.match(e.message, /could not be reached/);
  });

  test('signing - skopeo with a policy requiring Kiln\'s key accepts the signed tag and refuses unsigned, other-key and retagged images', async () => {
    const root = join(dir, 'repos', 'sigstore');
    const now = new Date();
    const opts = { root, sign: (p: Uint8Array) => key.signer.signMessage(p), publicKeyArmored: key.publicKeyArmored, now };
    const first = await signTag({ registry: prod.host, repository: 'kiln/busybox', tag: '1.0', digest }, opts);
    assert.equal(first.written, true);
    assert.equal(first.file, `kiln/busybox@sha256=${digest.slice(7)}/signature-1`);
    // Idempotent: the same tag again writes nothing.
    assert.equal((await signTag({ registry: prod.host, repository: 'kiln/busybox', tag: '1.0', digest }, opts)).written, false);
    assert.deepEqual(await signedReferences(root, 'kiln/busybox', digest, key.publicKeyArmored), [`${prod.host}/kiln/busybox:1.0`]);

    const policy = consumerPolicy({ scopes: [prod.host], keyPath: join(dir, 'kiln.asc') });
    const signed = await consumerCopy(`${prod.host}/kiln/busybox:1.0`, policy);
    assert.ok(signed.ok, signed.stderr);
    // `latest` points at the same digest but its signature names 1.0 only: refused until signed too.
    const unsigned = await consumerCopy(`${prod.host}/kiln/busybox:latest`, policy);
    assert.equal(unsigned.ok, false);
    assert.match(unsigned.stderr, /[Ss]ignature|not allowed|rejected/);
    await signTag({ registry: prod.host, repository: 'kiln/busybox', tag: 'latest', digest }, opts);
    assert.ok((await consumerCopy(`${prod.host}/kiln/busybox:latest`, policy)).ok);
    // A policy that trusts another key refuses Kiln's signatures.
    const wrongKey = await consumerCopy(`${prod.host}/kiln/busybox:1.0`, consumerPolicy({ scopes: [prod.host], keyPath: join(dir, 'other.asc') }));
    assert.equal(wrongKey.ok, false);
  });
});
