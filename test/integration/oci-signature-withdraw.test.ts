// Signatures follow the tags Kiln writes and pruning spares what Kiln does not own, on
// real parts (two Debian docker-registry instances, skopeo, Docker for tiny images,
// kiln serve's file server for the lookaside): a tag rolled back by hand in production
// is refused by a consumer's signedBy policy once Kiln moved it; a dropped tag kept on
// a manifest still in use is unsigned; agents' build tags in a shared repository
// survive a release and prune.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { consumerPolicy } from '../../oci/consumer-policy.ts';
import { byDigest, byTag } from '../../oci/image-ref.ts';
import { signedReferences } from '../../oci/lookaside.ts';
import { promote, type PromoteRequest } from '../../oci/promote.ts';
import { RegistryClient } from '../../oci/registry-client.ts';
import type { DesiredTag } from '../../oci/registry-plan.ts';
import { startRepoServer, type RepoServer } from '../../reconciler/serve/repo-server.ts';
import { consumerCopy } from '../helpers/consumer-copy.ts';
import { docker, dockerUnavailable } from '../helpers/docker.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { makeTestKey, type TestKey } from '../helpers/signed-repo.ts';
import { importBusyboxImage } from '../helpers/tiny-image.ts';

const client = new RegistryClient({ tlsVerify: false });
const IMAGES = [1, 2, 3].map((n) => `kiln-test/oci-withdraw:${process.pid}-${n}`);
let cand: TestRegistry;
let prod: TestRegistry;
let key: TestKey;
let dir: string;
let server: RepoServer;
const d: string[] = [];

const sigstore = () => join(dir, 'repos', 'sigstore');
function request(production: string, desired: DesiredTag[], recorded?: DesiredTag[]): PromoteRequest {
  return {
    client,
    endpoints: { candidate: cand.host, production },
    desired,
    recorded,
    signing: { root: sigstore(), sign: (p) => key.signer.signMessage(p), publicKeyArmored: key.publicKeyArmored, now: new Date() },
  };
}
const accepted = async (ref: string) =>
  consumerCopy({ workRoot: dir, registry: prod.host, lookasideUrl: `${server.url}/sigstore`, policy: consumerPolicy({ scopes: [prod.host], keyPath: join(dir, 'kiln.asc') }), ref });
const tag = (repository: string, t: string, digest: string): DesiredTag => ({ repository, tag: t, digest });

async function tagsOf(registry: string, repository: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const t of await client.listTags(registry, repository)) out[t] = (await client.resolveTag(byTag(registry, repository, t)))!;
  return out;
}

describe('oci signature withdrawal and pruning', { skip: await dockerUnavailable('kiln/bookworm-buildd') }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-oci-withdraw-'));
    [cand, prod, key] = await Promise.all([startRegistry('candidate'), startRegistry('production'), makeTestKey('kiln-release')]);
    await writeFile(join(dir, 'kiln.asc'), key.publicKeyArmored);
    await mkdir(sigstore(), { recursive: true });
    server = await startRepoServer({ root: join(dir, 'repos'), host: '127.0.0.1', port: 0 });
    for (const [i, image] of IMAGES.entries()) d.push(await client.pushFromDaemon(await importBusyboxImage(image), byTag(cand.host, 'kiln/app', `build-${i + 1}`)));
    assert.equal(new Set(d).size, 3);
  });
  after(async () => {
    await server?.close();
    await Promise.all([cand?.dispose(), prod?.dispose()]);
    for (const i of IMAGES) await docker.getImage(i).remove({ force: true }).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const v1 = () => [tag('kiln/app', '1.0', d[0]), tag('kiln/app', 'latest', d[0])];
  const v2 = () => [tag('kiln/app', '1.0', d[0]), tag('kiln/app', '2.0', d[1]), tag('kiln/app', 'latest', d[1])];

  test('oci signatures - after Kiln moves a tag, pointing it back by hand is refused by a signedBy policy', async () => {
    await promote(request(prod.host, v1()));
    assert.ok((await accepted(`${prod.host}/kiln/app:latest`)).ok, 'latest on d1 is signed');
    const r = await promote(request(prod.host, v2(), v1()));
    assert.deepEqual(r.withdrawn, [{ repository: 'kiln/app', digest: d[0], dockerReference: `${prod.host}/kiln/app:latest` }]);
    assert.deepEqual(await signedReferences(sigstore(), 'kiln/app', d[0], key.publicKeyArmored), [`${prod.host}/kiln/app:1.0`]);
    assert.ok((await accepted(`${prod.host}/kiln/app:latest`)).ok, 'latest on d2 is signed');
    // Someone rolls latest back to d1 by hand: the old signature is gone, so consumers refuse it.
    await client.setTag({ ...byDigest(prod.host, 'kiln/app', d[0]), digest: d[0] }, 'latest');
    const rolledBack = await accepted(`${prod.host}/kiln/app:latest`);
    assert.equal(rolledBack.ok, false, 'a hand rollback must not be accepted');
    assert.match(rolledBack.stderr, /[Ss]ignature|not allowed|rejected/);
    assert.ok((await accepted(`${prod.host}/kiln/app:1.0`)).ok, '1.0 on d1 keeps its signature');
    // The next release restores latest (drift) and a second run changes nothing.
    const restored = await promote(request(prod.host, v2(), v2()));
    assert.deepEqual(restored.plan.drift, [{ repository: 'kiln/app', tag: 'latest', found: d[0], desired: d[1] }]);
    assert.equal((await promote(request(prod.host, v2(), v2()))).changed, false);
  });

  test('oci signatures - a dropped tag kept on a manifest still tagged is reported stale and no longer signed', async () => {
    // `keep` is no tag of Kiln's: it holds d1 in place when Kiln drops 1.0.
    await client.setTag({ ...byDigest(prod.host, 'kiln/app', d[0]), digest: d[0] }, 'keep');
    const v3 = [tag('kiln/app', '2.0', d[1]), tag('kiln/app', 'latest', d[1])];
    const r = await promote(request(prod.host, v3, v2()));
    assert.deepEqual(r.plan.deleteManifests, []);
    assert.deepEqual(r.plan.staleTags, [{ repository: 'kiln/app', tag: '1.0', digest: d[0] }]);
    assert.deepEqual(await signedReferences(sigstore(), 'kiln/app', d[0], key.publicKeyArmored), []);
    assert.equal((await accepted(`${prod.host}/kiln/app:1.0`)).ok, false);
  });

  test('oci pruning - build tags in a repository shared with a release survive its release and prune', async () => {
    // A candidate distribution without a repository prefix: releases land where agents push builds.
    const first = await promote(request(cand.host, [tag('kiln/app', '1.0', d[0])]));
    assert.deepEqual(first.plan.deleteManifests, []);
    const r = await promote(request(cand.host, [tag('kiln/app', '2.0', d[1])], [tag('kiln/app', '1.0', d[0])]));
    assert.deepEqual(r.plan.deleteManifests, []);
    assert.deepEqual(r.plan.staleTags, [{ repository: 'kiln/app', tag: '1.0', digest: d[0] }]);
    assert.deepEqual(await tagsOf(cand.host, 'kiln/app'), { '1.0': d[0], '2.0': d[1], 'build-1': d[0], 'build-2': d[1], 'build-3': d[2] });
  });
});
