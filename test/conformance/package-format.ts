// The package-format conformance suite: properties every PackageFormat module
// must have, given examples of its format by a fixture. Run it from one test
// file per format: packageFormatConformance('deb', debFixture).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PackageFormat } from '../../reconciler/formats/index.ts';

export interface PackageFormatFixture {
  format: PackageFormat;
  /** Valid versions in strictly ascending order. */
  ascending: string[];
  /** Spellings of one version that order as equal (may be one). */
  equal: string[];
  invalid: string[];
  /** Artifact file names of one build, and which of them each architecture gets. */
  artifacts: string[];
  byArch: Record<string, string[]>;
  /** Artifact names that never enter a release (logs, build info). */
  notReleasable: string[];
}

export function packageFormatConformance(name: string, fx: PackageFormatFixture): void {
  const cmp = (a: string, b: string) => Math.sign(fx.format.compareVersions(a, b));

  test(`package format conformance - ${name} - version order is a total order (reflexive, antisymmetric, transitive)`, () => {
    const all = [...fx.ascending, ...fx.equal];
    for (const a of all) {
      assert.equal(cmp(a, a), 0, a);
      for (const b of all) assert.equal(cmp(a, b), 0 - cmp(b, a) || 0, `${a} vs ${b}`);
    }
    for (let i = 0; i < fx.ascending.length; i++) for (let j = i + 1; j < fx.ascending.length; j++) assert.equal(cmp(fx.ascending[i], fx.ascending[j]), -1, `${fx.ascending[i]} < ${fx.ascending[j]}`);
    for (const a of fx.equal) for (const b of fx.equal) assert.equal(cmp(a, b), 0, `${a} = ${b}`);
  });

  test(`package format conformance - ${name} - valid versions pass validation, invalid ones are told why`, () => {
    for (const v of [...fx.ascending, ...fx.equal]) assert.equal(fx.format.versionProblem(v), undefined, v);
    for (const v of fx.invalid) assert.equal(typeof fx.format.versionProblem(v), 'string', v);
  });

  test(`package format conformance - ${name} - each architecture gets its own and the architecture-independent artifacts`, () => {
    const artifacts = fx.artifacts.map((n) => ({ name: n }));
    for (const [arch, want] of Object.entries(fx.byArch)) assert.deepEqual(fx.format.artifactsForArch(artifacts, arch).map((a) => a.name).sort(), [...want].sort(), arch);
    for (const n of fx.notReleasable) assert.equal(fx.format.isReleasable(n), false, n);
    assert.equal(fx.format.recipe({ format: fx.format.name, rebuild: 2 } as never).format, fx.format.name);
  });
}
