// Image index assembly (oci/image-index.ts) and the platform mapping (oci/platform.ts):
// pure, byte-for-byte deterministic, so a re-derived index has the same digest.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { assembleIndex, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, entryFor, entryPlatform, indexBuildKey, indexManifests, OCI_INDEX } from '../../oci/image-index.ts';
import { configMatches, ociPlatform, platformProblem, platformString } from '../../oci/platform.ts';
import { RegistryError } from '../../schema/errors.ts';

const d = (c: string) => `sha256:${c.repeat(64)}`;
const amd64 = { arch: 'amd64', digest: d('a'), mediaType: DOCKER_MANIFEST, size: 528 };
const arm64 = { arch: 'arm64', digest: d('b'), mediaType: DOCKER_MANIFEST, size: 529 };

test('oci index - the same images in any order give the same bytes and digest, entries in architecture order', () => {
  const one = assembleIndex([arm64, amd64]);
  const two = assembleIndex([amd64, arm64]);
  assert.deepEqual(one.bytes, two.bytes);
  assert.equal(one.digest, two.digest);
  assert.equal(one.digest, `sha256:${createHash('sha256').update(one.bytes).digest('hex')}`);
  assert.equal(
    one.bytes.toString('utf8'),
    `{"manifests":[{"digest":"${d('a')}","mediaType":"${DOCKER_MANIFEST}","platform":{"architecture":"amd64","os":"linux"},"size":528},` +
      `{"digest":"${d('b')}","mediaType":"${DOCKER_MANIFEST}","platform":{"architecture":"arm64","os":"linux"},"size":529}],"mediaType":"${DOCKER_MANIFEST_LIST}","schemaVersion":2}`,
  );
  assert.equal(one.mediaType, DOCKER_MANIFEST_LIST, 'Docker manifests: a Docker manifest list');
  const oci = assembleIndex([amd64, { ...arm64, mediaType: 'application/vnd.oci.image.manifest.v1+json' }]);
  assert.equal(oci.mediaType, OCI_INDEX, 'any OCI manifest: an OCI image index');
  assert.notEqual(oci.digest, one.digest);
});

test('oci index - an architecture with no platform, twice the same architecture, no image or a bad digest are refused', () => {
  assert.throws(() => assembleIndex([amd64, { ...arm64, arch: 'all' }]), (e: unknown) => e instanceof RegistryError && /all has no OCI platform/.test(e.message));
  assert.throws(() => assembleIndex([amd64, { ...amd64, digest: d('c') }]), /two images for architecture amd64/);
  assert.throws(() => assembleIndex([]), /at least one image/);
  assert.throws(() => assembleIndex([{ ...amd64, digest: 'sha256:short' }]), /not a sha256 digest/);
});

test('oci index - read back: entries by platform; a single image is no index', () => {
  const index = assembleIndex([amd64, arm64, { arch: 'armhf', digest: d('c'), mediaType: DOCKER_MANIFEST, size: 1 }]);
  const entries = indexManifests(index.bytes);
  assert.ok(entries);
  assert.equal(entryFor(entries, ociPlatform('arm64')!), d('b'));
  assert.equal(entryFor(entries, ociPlatform('armhf')!), d('c'));
  assert.equal(entryFor(entries, ociPlatform('s390x')!), undefined);
  assert.deepEqual(entries.map(entryPlatform), ['linux/amd64', 'linux/arm64', 'linux/arm/v7']);
  assert.equal(indexManifests(Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: DOCKER_MANIFEST, config: {}, layers: [] }))), undefined);
  assert.equal(indexManifests(Buffer.from('not json')), undefined);
});

test('oci platform - Kiln architectures map to OCI platforms; all has none; a config without variant matches', () => {
  assert.equal(platformString(ociPlatform('arm64')!), 'linux/arm64');
  assert.equal(platformString(ociPlatform('armhf')!), 'linux/arm/v7');
  assert.equal(platformString(ociPlatform('ppc64el')!), 'linux/ppc64le');
  assert.equal(ociPlatform('all'), undefined);
  assert.equal(ociPlatform('toString'), undefined);
  assert.ok(configMatches(ociPlatform('arm64')!, { os: 'linux', architecture: 'arm64', variant: 'v8' }));
  assert.ok(!configMatches(ociPlatform('arm64')!, { os: 'linux', architecture: 'amd64' }));
  assert.ok(!configMatches(ociPlatform('armhf')!, { os: 'linux', architecture: 'arm', variant: 'v5' }));
});

test('oci platform - platformProblem names both platforms with their variant; a matching config has none', () => {
  assert.equal(platformProblem('arm64', { os: 'linux', architecture: 'arm64' }), undefined);
  assert.equal(platformProblem('armhf', { os: 'linux', architecture: 'arm', variant: 'v5' }), "the armhf build's image is linux/arm/v5, not linux/arm/v7");
  assert.equal(platformProblem('amd64', { os: 'linux', architecture: 'arm64', variant: 'v8' }), "the amd64 build's image is linux/arm64/v8, not linux/amd64");
  assert.equal(platformProblem('all', { os: 'linux', architecture: 'amd64' }), "the all build's image is linux/amd64, not of any OCI platform");
});

test('oci index - {build} of an index is sha256 over the canonical {arch: build key}: any architecture rebuilt changes it, order does not', () => {
  const builds = { arm64: 'b'.repeat(64), amd64: 'a'.repeat(64) };
  const want = createHash('sha256').update(`{"amd64":"${'a'.repeat(64)}","arm64":"${'b'.repeat(64)}"}`).digest('hex');
  assert.equal(indexBuildKey(builds), want);
  assert.equal(indexBuildKey({ amd64: builds.amd64, arm64: builds.arm64 }), want);
  assert.notEqual(indexBuildKey({ ...builds, arm64: 'c'.repeat(64) }).slice(0, 12), want.slice(0, 12));
});
