// Registry releases on real parts (two Debian docker-registry instances, skopeo,
// Docker for tiny images): promotion by digest with every tag signed, a tag moved
// by hand in production reported as drift and restored, pruning of versions the
// desired state dropped, and a missing candidate digest or a registry that is
// down changing nothing.
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { assembleIndex, DOCKER_MANIFEST } from '../../oci/image-index.ts';
import { byDigest, byTag } from '../../oci/image-ref.ts';
import { signedReferences } from '../../oci/lookaside.ts';
import { promote, type PromoteRequest } from '../../oci/promote.ts';
import { RegistryClient } from '../../oci/registry-client.ts';
import type { DesiredTag } from '../../oci/registry-plan.ts';
import { DigestMismatchError, ImageNotFoundError, RegistryError } from '../../schema/errors.ts';
import { docker, dockerUnavailable } from '../helpers/docker.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { makeTestKey, type TestKey } from '../helpers/signed-repo.ts';
import { importBusyboxImage } from '../helpers/tiny-image.ts';

const client = new RegistryClient({ tlsVerify: false });
const IMAGES = [1, 2, 3].map((n) => `kiln-test/oci-promote:${process.pid}-${n}`);
let cand: TestRegistry;
let prod: TestRegistry;
let key: TestKey;
let dir: string;
let d1: string;
let d2: string;

function request(desired: DesiredTag[], recorded?: DesiredTag[]): PromoteRequest {
  return {
    client,
    endpoints: { candidate: cand.host, production: prod.host },
    desired,
    recorded,
    signing: { root: join(dir, 'sigstore'), sign: (p) => key.signer.signMessage(p), publicKeyArmored: key.publicKeyArmored, now: new Date() },
  };
}

async function prodTags(): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const tag of await client.listTags(prod.host, 'kiln/app')) out[tag] = (await client.resolveTag(byTag(prod.host, 'kiln/app', tag)))!;
  return out;
}

describe('oci promotion', { skip: await dockerUnavailable('kiln/bookworm-buildd') }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-oci-promote-'));
    [cand, prod, key] = await Promise.all([startRegistry('candidate'), startRegistry('production'), makeTestKey('kiln-release')]);
    d1 = await client.pushFromDaemon(await importBusyboxImage(IMAGES[0]), byTag(cand.host, 'kiln/app', 'build-1'));
    d2 = await client.pushFromDaemon(await importBusyboxImage(IMAGES[1]), byTag(cand.host, 'kiln/app', 'build-2'));
    assert.notEqual(d1, d2);
  });
  after(async () => {
    await Promise.all([cand?.dispose(), prod?.dispose()]);
    for (const i of IMAGES) await docker.getImage(i).remove({ force: true }).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const v1: DesiredTag[] = [];
  test('registry release - promotes by digest and signs every tag; a second run changes nothing', async () => {
    v1.push({ repository: 'kiln/app', tag: '1.0-1', digest: d1 }, { repository: 'kiln/app', tag: 'latest', digest: d1 });
    const first = await promote(request(v1));
    assert.equal(first.changed, true);
    assert.deepEqual(first.plan.copy, [{ repository: 'kiln/app', digest: d1 }]);
    assert.deepEqual(await prodTags(), { '1.0-1': d1, latest: d1 });
    assert.deepEqual((await signedReferences(join(dir, 'sigstore'), 'kiln/app', d1, key.publicKeyArmored)).sort(), [`${prod.host}/kiln/app:1.0-1`, `${prod.host}/kiln/app:latest`]);
    const second = await promote(request(v1, v1));
    assert.equal(second.changed, false);
  });

  test('registry release - a tag moved by hand in production is reported as drift and restored', async () => {
    await client.copy(byDigest(cand.host, 'kiln/app', d2), byTag(prod.host, 'kiln/app', 'latest'));
    const r = await promote(request(v1, v1));
    assert.deepEqual(r.plan.drift, [{ repository: 'kiln/app', tag: 'latest', found: d2, desired: d1 }]);
    assert.deepEqual(await prodTags(), { '1.0-1': d1, latest: d1 });
  });

  test('registry release - a version the desired state dropped is pruned (its manifest deleted)', async () => {
    const v2: DesiredTag[] = [{ repository: 'kiln/app', tag: '2.0-1', digest: d2 }, { repository: 'kiln/app', tag: 'latest', digest: d2 }];
    const r = await promote(request(v2, v1));
    assert.deepEqual(r.plan.deleteManifests, [{ repository: 'kiln/app', digest: d1 }]);
    assert.deepEqual(await prodTags(), { '2.0-1': d2, latest: d2 });
  });

  test('registry release - a dropped index is pruned with the images its tags recorded (instances), except one a desired tag still uses', async () => {
    const entry = async (arch: string, digest: string) => ({ arch, digest, mediaType: DOCKER_MANIFEST, size: (await client.manifest(byDigest(cand.host, 'kiln/app', digest))).bytes.length });
    const index = assembleIndex([await entry('amd64', d1), await entry('arm64', d2)]);
    await client.putIndex(cand.host, 'kiln/app', 'index-1', index);
    const v3: DesiredTag[] = [{ repository: 'kiln/app', tag: '3.0-1', digest: index.digest, instances: [d1, d2] }];
    await promote(request(v3));
    assert.deepEqual(await prodTags(), { '2.0-1': d2, latest: d2, '3.0-1': index.digest });
    // 3.0-1 dropped: its index goes, and d1 with it; d2 stays (2.0-1 and latest name it).
    const v2: DesiredTag[] = [{ repository: 'kiln/app', tag: '2.0-1', digest: d2 }, { repository: 'kiln/app', tag: 'latest', digest: d2 }];
    const r = await promote(request(v2, [...v2, ...v3]));
    assert.deepEqual(r.plan.deleteManifests, [{ repository: 'kiln/app', digest: index.digest }]);
    for (const gone of [index.digest, d1]) await assert.rejects(client.manifest(byDigest(prod.host, 'kiln/app', gone)), ImageNotFoundError);
    assert.equal((await client.manifest(byDigest(prod.host, 'kiln/app', d2))).digest, d2);
    assert.deepEqual(await prodTags(), { '2.0-1': d2, latest: d2 });
  });

  test('registry release - a digest the candidate registry lacks promotes nothing', async () => {
    const missing = 'sha256:' + '1'.repeat(64);
    await assert.rejects(promote(request([{ repository: 'kiln/app', tag: '3.0-1', digest: missing }])), ImageNotFoundError);
    assert.deepEqual(await prodTags(), { '2.0-1': d2, latest: d2 });
  });

  test('registry release - a candidate serving other bytes under the digest is an integrity failure and promotes nothing', async () => {
    const d3 = await client.pushFromDaemon(await importBusyboxImage(IMAGES[2]), byTag(cand.host, 'kiln/other', 'build-3'));
    // Tamper with the stored manifest: the candidate now serves bytes that do not hash to the digest.
    const hex = d3.slice('sha256:'.length);
    const blob = join(cand.storageDir, 'docker/registry/v2/blobs/sha256', hex.slice(0, 2), hex, 'data');
    await writeFile(blob, Buffer.from(' ' + (await readFile(blob, 'utf8'))));
    const e = await promote(request([...v1, { repository: 'kiln/other', tag: '1.0-1', digest: d3 }])).then(() => undefined, (x: unknown) => x);
    assert.ok(e instanceof DigestMismatchError, String(e));
    assert.equal(e.kind, 'terminal');
    assert.deepEqual(await client.listTags(prod.host, 'kiln/other'), []);
  });

  test('registry release - a repository that fails lets the others settle before promote throws its error', async () => {
    // kiln/slow's copy starts only once kiln/bad's copy has failed: promote must wait for it.
    let badFailed!: () => void;
    const failed = new Promise<void>((r) => (badFailed = r));
    let inFlight = 0;
    const watched = Object.create(client) as RegistryClient;
    watched.copy = async (source, dest) => {
      if (dest.repository === 'kiln/bad') return client.copy(source, dest).finally(badFailed);
      inFlight++;
      try {
        await failed;
        await new Promise((r) => setImmediate(r));
        return await client.copy(source, dest);
      } finally {
        inFlight--;
      }
    };
    const missing = 'sha256:' + '2'.repeat(64);
    const desired = [
      { repository: 'kiln/bad', tag: '1.0-1', digest: missing },
      { repository: 'kiln/slow', tag: '1.0-1', digest: d1 },
    ];
    const e = await promote({ ...request(desired), client: watched }).then(() => undefined, (x: unknown) => x);
    assert.ok(e instanceof ImageNotFoundError, String(e));
    assert.equal(inFlight, 0, 'no repository still at work when promote throws');
    assert.deepEqual(await client.listTags(prod.host, 'kiln/bad'), []);
  });

  test('registry release - a production registry that is down is a transient error', async () => {
    await prod.stop();
    try {
      const e = await promote(request([{ repository: 'kiln/app', tag: '2.0-1', digest: d2 }])).then(() => undefined, (x: unknown) => x);
      assert.ok(e instanceof RegistryError, String(e));
      assert.equal(e.kind, 'transient');
    } finally {
      await prod.restart();
    }
  });
});
