import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import canonicalize from 'canonicalize';
import { buildKey } from '../../reconciler/plan/build-key.ts';
import { canonicalJson } from '../../reconciler/plan/canonical-json.ts';
import type { BuildInputs } from '../../schema/status.ts';
import { seededRandom } from '../helpers/seeded.ts';

const base: BuildInputs = {
  package: 'hello',
  version: '1.0-1',
  source: { url: '/srv/src/hello', commit: 'a'.repeat(40) },
  recipe: { format: 'deb', rebuild: 0 },
  image: 'kiln/bookworm-debhelper',
  arch: 'amd64',
  target: 'deb',
};

test('build key - is a sha256 hex digest', () => {
  assert.match(buildKey(base), /^[0-9a-f]{64}$/);
});

test('build key - stable under key order', () => {
  const reordered = {
    target: 'deb',
    arch: 'amd64',
    image: 'kiln/bookworm-debhelper',
    recipe: { rebuild: 0, format: 'deb' },
    source: { commit: 'a'.repeat(40), url: '/srv/src/hello' },
    version: '1.0-1',
    package: 'hello',
  } as BuildInputs;
  assert.equal(buildKey(reordered), buildKey(base));
});

test('build key - a known value does not drift between releases', () => {
  // If this changes, every existing build would be rebuilt: change it only on purpose.
  assert.equal(buildKey(base), 'ff89e260ff9f3f31c38f6b604e48073b204d384e6be87e1e168d74859ff0c68c');
});

const changes: Array<[string, (i: BuildInputs) => void]> = [
  ['package', (i) => (i.package = 'hello2')],
  ['version', (i) => (i.version = '1.0-2')],
  ['source url', (i) => (i.source.url = '/srv/src/other')],
  ['source commit', (i) => (i.source.commit = 'b'.repeat(40))],
  ['source subdir', (i) => (i.source.subdir = 'pkg')],
  ['recipe format', (i) => (i.recipe.format = 'rpm')],
  ['rebuild counter', (i) => (i.recipe.rebuild = 1)],
  ['image', (i) => (i.image = 'kiln/other@sha256:' + 'c'.repeat(64))],
  ['architecture', (i) => (i.arch = 'arm64')],
  ['target', (i) => (i.target = 'oci')],
];

for (const [name, mutate] of changes) {
  test(`build key - changes when the ${name} changes`, () => {
    const changed = structuredClone(base);
    mutate(changed);
    assert.notEqual(buildKey(changed), buildKey(base));
  });
}

/** The key function before canonical-json.ts: canonicalize + createHash. Persisted keys are these bytes. */
function keyBefore(inputs: BuildInputs): string {
  return createHash('sha256').update(canonicalize(inputs)!).digest('hex');
}

function generators(random: () => number) {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];
  const pieces = ['a', 'Z', '0', '-', '.', '/', ' ', '"', '\\', '\n', '\t', '\u0000', '\u001f', '\u007f', 'é', '€', '😀', '\u2028', 'ß', '~', '+', ':'];
  const str = () => Array.from({ length: Math.floor(random() * 10) }, () => pick(pieces)).join('');
  const num = () => pick([0, 1, -1, 7, 255, 2 ** 31, 2 ** 53 - 1, 0.5, 1e21, 1e-7, -0, Math.floor(random() * 1e6)]);
  const record = () => Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, () => [str(), str()]));
  const inputs = (): BuildInputs => ({
    package: str(),
    version: str(),
    source: { url: str(), commit: str(), ...(random() < 0.3 ? { subdir: str() } : {}) },
    recipe: { format: pick(['deb', 'rpm', 'oci']), rebuild: Math.floor(random() * 5), ...(random() < 0.3 ? { oci: { dockerfile: str(), context: str(), repository: str(), ...(random() < 0.5 ? { base: str() } : {}) } } : {}) },
    image: str(),
    arch: pick(['amd64', 'arm64', 'i386', 'riscv64']),
    target: pick(['deb', 'rpm', 'oci']),
    ...(random() < 0.3 ? { builtAgainst: record() } : {}),
    ...(random() < 0.3 ? { binNMU: 1 + Math.floor(random() * 3) } : {}),
  } as BuildInputs);
  // Any value: the plain ones and the ones canonical-json.ts hands to canonicalize.
  const value = (depth: number): unknown => {
    const r = random();
    if (depth > 3 || r < 0.35) return pick<unknown>([str(), num(), true, false, null, undefined, NaN, Infinity, '\ud800', 'a\udc00', Symbol('s'), 10n]);
    if (r < 0.55) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1));
    if (r < 0.6) {
      const inner = value(depth + 1);
      return { toJSON: () => inner };
    }
    if (r < 0.62) return new Date(0);
    return Object.fromEntries(Array.from({ length: Math.floor(random() * 5) }, () => [pick([str(), '\ud800x', '10', '2', 'b', 'B']), value(depth + 1)]));
  };
  return { inputs, value };
}

const outcome = (fn: () => unknown) => {
  try {
    return { value: fn() };
  } catch (e) {
    return { error: (e as Error).message };
  }
};

test('build key - the same bytes as before canonical-json.ts on seeded random build inputs', (t) => {
  const { random } = seededRandom(t);
  const gen = generators(random);
  for (let n = 0; n < 5000; n++) {
    const inputs = gen.inputs();
    assert.equal(buildKey(inputs), keyBefore(inputs), JSON.stringify(inputs));
  }
  assert.equal(keyBefore(base), 'ff89e260ff9f3f31c38f6b604e48073b204d384e6be87e1e168d74859ff0c68c');
});

test('build key - canonical JSON equals the canonicalize package on seeded random values, errors included', (t) => {
  const { random } = seededRandom(t);
  const gen = generators(random);
  for (let n = 0; n < 5000; n++) {
    const v = gen.value(0);
    assert.deepEqual(outcome(() => canonicalJson(v)), outcome(() => canonicalize(v)), String(n));
  }
  const cycle: Record<string, unknown> = { a: 1 };
  cycle.self = cycle;
  assert.deepEqual(outcome(() => canonicalJson(cycle)), outcome(() => canonicalize(cycle)));
});
