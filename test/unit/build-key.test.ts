import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildKey } from '../../reconciler/plan/build-key.ts';
import type { BuildInputs } from '../../schema/status.ts';

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
