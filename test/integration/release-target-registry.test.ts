// The registry release target against the release-target conformance suite: real
// images (tiny busybox images) pushed to a real candidate registry, promoted by
// digest into a real production registry (Debian docker-registry), and checked
// by skopeo as an independent client: tags it lists, and signatures it verifies
// with a policy.json requiring the key.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { promisify } from 'node:util';
import * as openpgp from 'openpgp';
import { consumerPolicy, registriesDConfig } from '../../oci/consumer-policy.ts';
import { byTag } from '../../oci/image-ref.ts';
import { signedReferences } from '../../oci/lookaside.ts';
import { RegistryClient } from '../../oci/registry-client.ts';
import { readPayload } from '../../oci/simple-signing.ts';
import type { GateAction, Plan, RegistryDistribution } from '../../reconciler/model.ts';
import { REASONS } from '../../schema/conditions.ts';
import { runGates } from '../../reconciler/pass/gate-step.ts';
import { releasedTags } from '../../reconciler/records/release-tags.ts';
import type { ReleaseUnit } from '../../reconciler/release-targets/index.ts';
import { registryTarget, SIGSTORE_DIR } from '../../reconciler/release-targets/registry/registry-target.ts';
import { versionImages } from '../../reconciler/release-targets/registry/version-images.ts';
import { generateKey, loadSigner } from '../../reconciler/signing/signer.ts';
import type { PublishedTags } from '../../schema/oci.ts';
import { DigestMismatchError, GateInfraError, ImageNotFoundError, RegistryError } from '../../schema/errors.ts';
import { writePublishedTags } from '../../oci/published-tags.ts';
import type { ReleaseRecord } from '../../schema/status.ts';
import { validators } from '../../schema/validate.ts';
import { releaseTargetConformance } from '../conformance/release-target.ts';
import { docker } from '../helpers/docker.ts';
import { quietLog } from '../helpers/kiln-service.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { importBusyboxImage } from '../helpers/tiny-image.ts';

const run = promisify(execFile);
const client = new RegistryClient({ tlsVerify: false });
const registries: TestRegistry[] = [];
const images: string[] = [];
after(async () => {
  await Promise.all(registries.map((r) => r.dispose()));
  for (const i of images) await docker.getImage(i).remove({ force: true }).catch(() => undefined);
});

async function pushTiny(cand: TestRegistry, repository: string, tag: string): Promise<string> {
  const name = `kiln-test/conformance:${process.pid}-${images.length}`;
  images.push(name);
  return client.pushFromDaemon(await importBusyboxImage(name), byTag(cand.host, repository, tag));
}

/** The source distribution 'cand' a gate reads from: the registry at `host`. */
const candidate = (host: string, arch: RegistryDistribution['architectures'][number]): RegistryDistribution => ({ name: 'cand', file: 'distributions/cand.yaml', format: 'registry', url: host, repository: 'kiln', insecure: true, architectures: [arch], keep: 3, gate: 'none' });

/** A release unit: a tiny image pushed to the candidate as an agent would, described by its image.json. */
async function imageUnit(cand: TestRegistry, dir: string, name: string, version: string, repository = `kiln/${name}`): Promise<ReleaseUnit> {
  const digest = await pushTiny(cand, repository, `build-${version}`);
  const image = await client.inspect({ registry: cand.host, repository, digest });
  const unitDir = join(dir, 'units', `${name}-${version}`);
  await mkdir(unitDir, { recursive: true });
  const path = join(unitDir, 'image.json');
  const text = JSON.stringify(image);
  await writeFile(path, text);
  return { name, version, arch: 'amd64', files: [{ name: 'image.json', sha256: createHash('sha256').update(text).digest('hex'), size: Buffer.byteLength(text), path }] };
}

/** The repositories under the distribution's prefix, as the registry's catalog lists them. */
async function repositories(prod: TestRegistry, dist: RegistryDistribution): Promise<string[]> {
  const res = await fetch(`http://${prod.host}/v2/_catalog`);
  const { repositories: all } = (await res.json()) as { repositories: string[] };
  return all.filter((r) => r.startsWith(`${dist.repository}/`)).sort();
}

releaseTargetConformance<RegistryDistribution>('registry', async () => {
  const [cand, prod] = await Promise.all([startRegistry('candidate'), startRegistry('production')]);
  registries.push(cand, prod);
  const intruder = await pushTiny(cand, 'kiln/intruder', '1');
  return {
    target: registryTarget,
    distribution: (name) => ({ name, file: `distributions/${name}.yaml`, format: 'registry', url: prod.host, repository: `dist-${name}`, insecure: true, plainHttp: [cand.host], architectures: ['amd64'], keep: 3, gate: 'none' }),
    unit: (dir, name, version) => imageUnit(cand, dir, name, version),
    async verifySigned(root, dist, publicKey) {
      const work = await mkdtemp(join(tmpdir(), 'kiln-consumer-'));
      try {
        await writeFile(join(work, 'key.asc'), publicKey);
        await writeFile(join(work, 'policy.json'), JSON.stringify(consumerPolicy({ scopes: [prod.host], keyPath: join(work, 'key.asc') })));
        await mkdir(join(work, 'registries.d'));
        await writeFile(join(work, 'registries.d', 'kiln.yaml'), registriesDConfig(prod.host, `file://${join(root, dist.name, SIGSTORE_DIR)}`));
        for (const repo of await repositories(prod, dist)) {
          for (const tag of await client.listTags(prod.host, repo)) {
            await run('skopeo', ['--policy', join(work, 'policy.json'), '--registries.d', join(work, 'registries.d'), 'copy', '--src-tls-verify=false', `docker://${prod.host}/${repo}:${tag}`, `dir:${join(work, `${repo.replace(/\//g, '_')}-${tag}`)}`]);
          }
        }
      } finally {
        await rm(work, { recursive: true, force: true });
      }
    },
    async listed(_root, dist) {
      const out: string[] = [];
      for (const repo of await repositories(prod, dist)) {
        for (const tag of await client.listTags(prod.host, repo)) out.push(`${repo.slice(dist.repository.length + 1)} ${tag}`);
      }
      return out.sort();
    },
    async tamper(_root, dist) {
      const [repo] = await repositories(prod, dist);
      const [tag] = await client.listTags(prod.host, repo);
      await client.copy({ registry: cand.host, repository: 'kiln/intruder', digest: intruder }, byTag(prod.host, repo, tag));
    },
  };
});

test('registry target - each released tag names its signature (file, sha256, key) in the release record, and it verifies', async () => {
  const [cand, prod] = await Promise.all([startRegistry('candidate'), startRegistry('production')]);
  registries.push(cand, prod);
  const dir = await mkdtemp(join(tmpdir(), 'kiln-registry-record-'));
  try {
    const k = await generateKey({ name: 'kiln-release', email: 'release@kiln.invalid' });
    const signer = await loadSigner(k.privateKeyArmored);
    const dist: RegistryDistribution = { name: 'prod', file: 'distributions/prod.yaml', format: 'registry', url: prod.host, repository: 'kiln', insecure: true, plainHttp: [cand.host], architectures: ['amd64'], keep: 3, gate: 'none' };
    const unit = { ...(await imageUnit(cand, dir, 'app', '1.0-1')), tagTemplates: ['{version}', 'latest'] };
    const root = join(dir, 'repos');
    const report = await registryTarget.apply({ root, distribution: dist, units: [unit], signer, now: new Date(), inputs: 'copy' });
    const record: ReleaseRecord = { distribution: dist.name, desiredCommit: 'c'.repeat(40), signingKey: signer.fingerprint, packages: [], tags: releasedTags(report.tags ?? [], undefined, 'c'.repeat(40)) };
    assert.ok(validators.releaseRecord(record), JSON.stringify(validators.releaseRecord.errors));
    assert.deepEqual(record.tags?.map((t) => t.tag), ['1.0-1', 'latest']);
    for (const t of record.tags ?? []) {
      assert.ok(t.signature, `${t.tag} names its signature`);
      assert.equal(t.signature.signingKey, signer.fingerprint);
      const bytes = await readFile(join(root, dist.name, SIGSTORE_DIR, t.signature.file));
      assert.equal(createHash('sha256').update(bytes).digest('hex'), t.signature.sha256);
      const message = await openpgp.readMessage({ binaryMessage: bytes });
      const verified = await openpgp.verify({ message, verificationKeys: await openpgp.readKey({ armoredKey: k.publicKeyArmored }), format: 'binary', expectSigned: true });
      assert.deepEqual(readPayload(verified.data as Uint8Array), { dockerReference: `${prod.host}/${t.repository}:${t.tag}`, digest: t.digest });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('registry target - a distribution sharing the repositories agents push to keeps their build tags; dropped tags it cannot prune stay reported', async () => {
  const cand = await startRegistry('candidate');
  registries.push(cand);
  const dir = await mkdtemp(join(tmpdir(), 'kiln-registry-shared-'));
  try {
    const signer = await loadSigner((await generateKey({ name: 'kiln-release', email: 'release@kiln.invalid' })).privateKeyArmored);
    // No repository prefix: releases land in `app`, where agents push app's builds (build-<key>).
    const dist: RegistryDistribution = { name: 'candidate', file: 'distributions/candidate.yaml', format: 'registry', url: cand.host, repository: '', insecure: true, architectures: ['amd64'], keep: 3, gate: 'none' };
    const [v1, v2] = [await imageUnit(cand, dir, 'app', '1.0-1', 'app'), await imageUnit(cand, dir, 'app', '1.1-1', 'app')];
    const inFlight = await pushTiny(cand, 'app', 'build-inflight');
    const root = join(dir, 'repos');
    const apply = (units: ReleaseUnit[]) => registryTarget.apply({ root, distribution: dist, units, signer, now: new Date(), inputs: 'copy' });
    await apply([v1, v2]);
    await apply([v2]);
    const tags: Record<string, string> = {};
    for (const t of await client.listTags(cand.host, 'app')) tags[t] = (await client.resolveTag(byTag(cand.host, 'app', t)))!;
    const d = async (u: ReleaseUnit) => (JSON.parse(await readFile(u.files[0].path, 'utf8')) as { manifestDigest: string }).manifestDigest;
    assert.deepEqual(tags, { '1.0-1': await d(v1), '1.1-1': await d(v2), 'build-1.0-1': await d(v1), 'build-1.1-1': await d(v2), 'build-inflight': inFlight });
    // 1.0-1 stands only because build-1.0-1 holds its manifest: recorded as stale (reported again by each release), unsigned.
    const published = JSON.parse(await readFile(join(root, dist.name, 'tags.json'), 'utf8')) as PublishedTags;
    assert.deepEqual(published.stale, [{ repository: 'app', tag: '1.0-1', digest: await d(v1) }]);
    assert.deepEqual(await signedReferences(join(root, dist.name, SIGSTORE_DIR), 'app', await d(v1), signer.publicKeyArmored), []);
    assert.equal((await apply([v2])).changed, false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('registry target - a registry serving other bytes under a digest gives a failed gate verdict naming integrity and the digests; the other gates of the pass still run', async () => {
  const reg = await startRegistry('gate-integrity');
  registries.push(reg);
  const root = await mkdtemp(join(tmpdir(), 'kiln-gate-integrity-'));
  try {
    const digest = await pushTiny(reg, 'kiln/x', '1');
    const other = await pushTiny(reg, 'kiln/y', '1');
    const from = candidate(reg.host, 'amd64');
    const tags = [
      { repository: 'kiln/x', tag: '1', digest, package: 'x', version: '1' },
      { repository: 'kiln/y', tag: '1', digest: other, package: 'y', version: '1' },
    ];
    await writePublishedTags(join(root, 'cand'), { registry: reg.host, tags }, async () => 'unused');
    // Tamper with the stored manifest in place, same length: one hex digit of its config digest changed.
    const hex = digest.slice('sha256:'.length);
    const data = join(reg.storageDir, 'docker', 'registry', 'v2', 'blobs', 'sha256', hex.slice(0, 2), hex, 'data');
    const text = await readFile(data, 'utf8');
    const at = text.indexOf('sha256:') + 'sha256:'.length;
    await writeFile(data, text.slice(0, at) + (text[at] === '0' ? '1' : '0') + text.slice(at + 1));
    const req = { docker, image: 'unused', root, from, distribution: 'prod', package: 'x', version: '1', smoke: 'true', timeoutSeconds: 30, log: quietLog };
    // The target lets the integrity failure out as it is, not as infrastructure trouble ...
    await assert.rejects(registryTarget.gate(req), (e: unknown) => e instanceof DigestMismatchError && !(e instanceof GateInfraError));
    // ... and the gate step records it as a failed verdict and goes on with the next gate.
    const gate = (pkg: string, smoke?: string): GateAction => ({ kind: 'gate', reason: REASONS.gateNeeded, message: 'test', distribution: 'prod', from: 'cand', package: pkg, version: '1', builds: {}, ...(smoke ? { smoke } : {}) });
    const plan: Plan = { desiredCommit: 'unused', actions: [gate('x', 'true'), gate('y')], waiting: [] };
    const records = await runGates(plan, new Map([['cand', from]]), { docker, image: 'unused', reposDir: root, timeoutSeconds: 30, log: quietLog });
    assert.deepEqual(records.map((r) => [r.package, r.verdict]), [['x', 'failed'], ['y', 'passed']]);
    assert.match(records[0]!.reason!, /^integrity failure: .*expected sha256:[0-9a-f]{64}, served sha256:[0-9a-f]{64}/);
    assert.ok(records[0]!.reason!.includes(digest));
    for (const r of records) assert.ok(validators.gateRecord(r), JSON.stringify(validators.gateRecord.errors));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('registry target - refused credentials while assembling an index are not pinned on the version (the distribution is retried as a whole); a missing image is', async () => {
  const locked = await startRegistry('index-refused', { users: [{ username: 'kiln', password: 'secret' }] });
  const open = await startRegistry('index-missing');
  registries.push(locked, open);
  const dir = await mkdtemp(join(tmpdir(), 'kiln-index-attribution-'));
  try {
    // Two architectures' image.json without manifestSize: assembling the index reads each manifest.
    const units = async (host: string): Promise<ReleaseUnit[]> =>
      Promise.all(
        ['amd64', 'arm64'].map(async (arch, i) => {
          const sha = (s: string) => `sha256:${createHash('sha256').update(`${s}${i}`).digest('hex')}`;
          const image = { repository: `${host}/kiln/app`, manifestDigest: sha('m'), mediaType: 'application/vnd.oci.image.manifest.v1+json', configDigest: sha('c'), layers: [], size: 1 };
          assert.ok(validators.ociImage(image));
          const path = join(dir, `${host.replace(/[^0-9a-z]/g, '-')}-${arch}.json`);
          const text = JSON.stringify(image);
          await writeFile(path, text);
          return { name: 'app', version: '1.0', arch, files: [{ name: 'image.json', sha256: createHash('sha256').update(text).digest('hex'), size: text.length, path }] };
        }),
      );
    const refused = await versionImages(client, await units(locked.host)).then(() => undefined, (e: unknown) => e);
    assert.ok(refused instanceof RegistryError && refused.kind === 'usage', String(refused));
    assert.equal(refused.data.package, undefined, 'refused credentials say nothing about the version');
    const missing = await versionImages(client, await units(open.host)).then(() => undefined, (e: unknown) => e);
    assert.ok(missing instanceof ImageNotFoundError && missing.kind === 'terminal', String(missing));
    assert.deepEqual([missing.data.package, missing.data.version], ['app', '1.0']);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('registry target - the gate of a single-arch foreign image checks emulation for its platform: no emulator, GateInfraError before Docker is touched', async () => {
  const reg = await startRegistry('gate-foreign');
  registries.push(reg);
  const root = await mkdtemp(join(tmpdir(), 'kiln-gate-foreign-'));
  const binfmtDir = await mkdtemp(join(tmpdir(), 'kiln-binfmt-'));
  try {
    // scripts/setup-host builds it: Debian's busybox-static:arm64 as an arm64 image.
    const armId = (await run('docker', ['image', 'inspect', '-f', '{{.Id}}', 'kiln/busybox-arm64'])).stdout.trim();
    const digest = await client.pushFromDaemon(armId, byTag(reg.host, 'kiln/arm', '1'));
    const from = candidate(reg.host, 'arm64');
    await writePublishedTags(join(root, 'cand'), { registry: reg.host, tags: [{ repository: 'kiln/arm', tag: '1', digest, package: 'arm', version: '1' }] }, async () => 'unused');
    const touched: string[] = [];
    const untouchable = new Proxy({}, { get: (_, k) => touched.push(String(k)) && undefined }) as unknown as typeof docker;
    const req = { docker: untouchable, image: 'unused', root, from, distribution: 'prod', package: 'arm', version: '1', smoke: 'true', timeoutSeconds: 30, log: quietLog, host: { arch: 'x64', binfmtDir } };
    await assert.rejects(registryTarget.gate(req), (e: unknown) => e instanceof GateInfraError && /\(linux\/arm64\) here: this x64 host cannot run arm64 binaries/.test(e.message));
    assert.deepEqual(touched, []);
  } finally {
    await rm(root, { recursive: true, force: true });
    await rm(binfmtDir, { recursive: true, force: true });
  }
});
