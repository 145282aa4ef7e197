// The release-target conformance suite (the way BullMQ tests its adapters):
// every ReleaseTarget implementation runs these tests with real parts, through
// a fixture that makes real artifacts of its format and checks signatures with
// an independent client (apt: gpgv). Run it from one test file per target:
// releaseTargetConformance('apt', makeAptFixture).
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { DesiredDistribution } from '../../reconciler/model.ts';
import type { ReleaseTarget, ReleaseUnit } from '../../reconciler/release-targets/index.ts';
import { generateKey, loadSigner, type Signer } from '../../reconciler/signing/signer.ts';
import type { ReleaseRecord } from '../../schema/status.ts';

export interface ReleaseTargetFixture<D extends DesiredDistribution> {
  target: ReleaseTarget<D>;
  distribution(name: string): D;
  /** A real, releasable artifact of the target's package format, written under `dir`. */
  unit(dir: string, name: string, version: string): Promise<ReleaseUnit>;
  /** An independent client verifies the published signatures with this public key (throws if not). */
  verifySigned(root: string, dist: D, publicKeyArmored: string): Promise<void>;
  /** What an independent client sees published: `name version` lines, sorted. */
  listed(root: string, dist: D): Promise<string[]>;
  /** Change something published behind the target's back (drift). */
  tamper(root: string, dist: D): Promise<void>;
}

interface Key {
  signer: Signer;
  publicKey: string;
}

async function newKey(name: string): Promise<Key> {
  const k = await generateKey({ name, email: `${name}@kiln.invalid` });
  return { signer: await loadSigner(k.privateKeyArmored), publicKey: k.publicKeyArmored };
}

/** The release record the pass would write for `units` after apply(). */
function recordOf(dist: string, units: ReleaseUnit[], releaseSha256: string, signer: Signer): ReleaseRecord {
  const at = new Date().toISOString();
  return {
    distribution: dist,
    desiredCommit: '0'.repeat(40),
    publishedAt: at,
    signingKey: signer.fingerprint,
    releaseSha256,
    packages: units.map((u) => ({ name: u.name, version: u.version, builds: { [u.arch]: 'k'.repeat(64) }, artifacts: u.files.map(({ name, sha256, size }) => ({ name, sha256, size })), publishedAt: at })),
  };
}

export function releaseTargetConformance<D extends DesiredDistribution>(name: string, makeFixture: () => Promise<ReleaseTargetFixture<D>>): void {
  describe(`release target conformance - ${name}`, () => {
    let dir: string;
    let root: string;
    let fx: ReleaseTargetFixture<D>;
    let key: Key;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), `kiln-conformance-${name}-`));
      root = join(dir, 'repos');
      fx = await makeFixture();
      key = await newKey('conformance');
    });
    after(() => rm(dir, { recursive: true, force: true }));

    const apply = (dist: D, units: ReleaseUnit[], signer = key.signer) => fx.target.apply({ root, distribution: dist, units, signer, now: new Date(), inputs: 'copy' });

    test(`${name} - apply publishes signed content an independent client lists; observe finds no drift`, async () => {
      const dist = fx.distribution('apply');
      const units = [await fx.unit(dir, 'alpha', '1.0-1'), await fx.unit(dir, 'beta', '2.0-1')];
      const report = await apply(dist, units);
      assert.match(report.releaseSha256, /^[0-9a-f]{64}$/);
      assert.equal(report.changed, true);
      await fx.verifySigned(root, dist, key.publicKey);
      assert.deepEqual(await fx.listed(root, dist), ['alpha 1.0-1', 'beta 2.0-1']);
      const seen = await fx.target.observe(root, dist, recordOf(dist.name, units, report.releaseSha256, key.signer), 0);
      assert.equal(seen.drift, undefined);
      assert.equal((await apply(dist, units)).changed, false, 'the same content again changes nothing');
    });

    test(`${name} - apply with less content prunes the rest; the change marker moves`, async () => {
      const dist = fx.distribution('prune');
      const v1 = await fx.unit(dir, 'gamma', '1.0-1');
      const v2 = await fx.unit(dir, 'gamma', '1.1-1');
      await apply(dist, [v1, v2]);
      const marker = fx.target.changeMarker(root, dist);
      const before = await stat(marker);
      const report = await apply(dist, [v2]);
      assert.deepEqual(await fx.listed(root, dist), ['gamma 1.1-1']);
      const after = await stat(marker);
      assert.notEqual(`${after.ino}:${after.size}:${after.mtimeMs}`, `${before.ino}:${before.size}:${before.mtimeMs}`);
      assert.equal((await fx.target.observe(root, dist, recordOf(dist.name, [v2], report.releaseSha256, key.signer), 0)).drift, undefined);
    });

    test(`${name} - drift: something changed behind the target's back is reported by observe`, async () => {
      const dist = fx.distribution('drift');
      const units = [await fx.unit(dir, 'delta', '1.0-1')];
      const report = await apply(dist, units);
      await fx.tamper(root, dist);
      const seen = await fx.target.observe(root, dist, recordOf(dist.name, units, report.releaseSha256, key.signer), 0);
      assert.equal(typeof seen.drift, 'string');
    });

    test(`${name} - resign: another key signs the same content; findSigned tells which key signs what`, async () => {
      const dist = fx.distribution('resign');
      await apply(dist, [await fx.unit(dir, 'epsilon', '1.0-1')]);
      const other = await newKey('conformance-other');
      const found = (await fx.target.findSigned(root, other.publicKey)).find((r) => r.distribution === dist.name);
      assert.equal(found?.signedByKey, false);
      const r = await fx.target.resign(root, dist.name, other.signer, new Date());
      assert.ok(r.parts.length > 0);
      await fx.verifySigned(root, dist, other.publicKey);
      assert.deepEqual(await fx.listed(root, dist), ['epsilon 1.0-1'], 'content unchanged');
      assert.equal((await fx.target.findSigned(root, other.publicKey)).find((x) => x.distribution === dist.name)?.signedByKey, true);
    });
  });
}
