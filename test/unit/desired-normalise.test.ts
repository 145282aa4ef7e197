import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BUILTIN_DEFAULTS, mergeLimits, normaliseConfig, normaliseDistribution, normalisePackage } from '../../reconciler/desired/normalise.ts';
import type { DebPackageDoc, PackageDoc } from '../../schema/metadata.ts';

const pkg = (extra: Partial<DebPackageDoc> = {}): PackageDoc => ({ name: 'hello', version: '1.0-1', source: { git: '../src', ref: 'main' }, format: 'deb', architectures: ['amd64'], ...extra });
const src = { url: '/srv/src', commit: 'c'.repeat(40) };

test('normalise - an absent kiln.yaml gives built-in defaults and one pool for every architecture', () => {
  const c = normaliseConfig(undefined);
  assert.deepEqual(c.trust, { keys: [], requireSignedCommits: true });
  assert.equal(c.defaults.pool, 'deb');
  assert.deepEqual(c.defaults.limits, BUILTIN_DEFAULTS.limits);
  assert.ok(c.pools.deb.architectures.includes('arm64'));
  assert.equal(c.defaults.maxAttempts, 3);
});

test('normalise - limits merge package > pool > defaults > built-in, field by field', () => {
  const c = normaliseConfig({
    pools: { big: { architectures: ['amd64'], limits: { memoryMiB: 8192 }, image: 'big-image' }, small: { architectures: ['amd64'] } },
    defaults: { pool: 'small', limits: { cpus: 4, memoryMiB: 1024 }, image: 'default-image', keep: 5 },
  });
  assert.deepEqual(c.pools.big.limits, { memoryMiB: 8192, cpus: 4, pids: 4096, timeoutSeconds: 3600 });
  const p = normalisePackage('packages/hello.yaml', pkg({ pool: 'big', limits: { timeoutSeconds: 60 } }), c, src);
  assert.deepEqual(p.limits, { memoryMiB: 8192, cpus: 4, pids: 4096, timeoutSeconds: 60 });
  assert.equal(p.image, 'big-image');
  const q = normalisePackage('packages/hello.yaml', pkg(), c, src);
  assert.equal(q.pool, 'small');
  assert.equal(q.image, 'default-image');
  assert.deepEqual(q.limits, { memoryMiB: 1024, cpus: 4, pids: 4096, timeoutSeconds: 3600 });
  assert.equal(normalisePackage('packages/hello.yaml', pkg({ image: 'own', pool: 'big' }), c, src).image, 'own');
  assert.deepEqual(mergeLimits({ pids: 10 }, undefined, { pids: 20 }), { ...BUILTIN_DEFAULTS.limits, pids: 20 });
});

test('normalise - a single declared pool is the default pool', () => {
  assert.equal(normaliseConfig({ pools: { only: { architectures: ['arm64'] } } }).defaults.pool, 'only');
});

test('normalise - package fields get their defaults and the resolved source', () => {
  const p = normalisePackage('packages/hello.yaml', pkg(), normaliseConfig(undefined), src);
  assert.deepEqual(p, {
    name: 'hello', file: 'packages/hello.yaml', version: '1.0-1',
    source: { git: '../src', url: '/srv/src', ref: 'main', commit: 'c'.repeat(40) },
    format: 'deb', architectures: ['amd64'], image: 'kiln/bookworm-debhelper', pool: 'deb',
    limits: BUILTIN_DEFAULTS.limits, release: [], rebuild: 0, rebuildDependents: 'on-version-change',
  });
});

test('normalise - distributions: codename, components, origin, label, keep and gate defaults', () => {
  const c = normaliseConfig({ defaults: { keep: 7 } });
  const t = normaliseDistribution('distributions/testing.yaml', { name: 'testing', format: 'apt', suite: 'testing', architectures: ['amd64'] }, c);
  assert.deepEqual(t, { name: 'testing', file: 'distributions/testing.yaml', format: 'apt', suite: 'testing', codename: 'testing', components: ['main'], architectures: ['amd64'], origin: 'Kiln', label: 'testing', keep: 7, gate: 'none' });
  const s = normaliseDistribution('distributions/stable.yaml', { name: 'stable', format: 'apt', suite: 'stable', codename: 'bookworm', architectures: ['amd64'], promoteFrom: 'testing', keep: 2 }, c);
  assert.equal(s.gate, 'install-smoke');
  assert.equal(s.format === 'apt' && s.codename, 'bookworm');
  assert.equal(s.keep, 2);
  const n = normaliseDistribution('distributions/x.yaml', { name: 'xx', format: 'apt', suite: 'x', architectures: ['amd64'], promoteFrom: 'testing', gate: 'none' }, c);
  assert.equal(n.gate, 'none', 'an explicit gate wins');
});
