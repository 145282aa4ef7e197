// Every contract's validator compiles. They compile on first use (schema/validate.ts), so a
// schema ajv's strict mode refuses would otherwise fail only where it is first read, which may be
// a rare path (a record read inside a try that skips unreadable ones).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { distributionValidators, packageValidators, validators } from '../../schema/validate.ts';

test('schema validators - every validator compiles, and a second read is the same function', () => {
  const names = Object.keys(validators) as (keyof typeof validators)[];
  assert.ok(names.length >= 20, `only ${names.length} validators`);
  for (const name of names) {
    const v = validators[name];
    assert.equal(typeof v, 'function', name);
    assert.equal(validators[name], v, `${name} compiled twice`);
    assert.equal(typeof v({}), 'boolean', `${name} runs`);
  }
});

test('schema validators - packages and distributions by format are the same validators', () => {
  assert.equal(packageValidators.deb, validators.debPackage);
  assert.equal(packageValidators.oci, validators.ociPackage);
  assert.equal(packageValidators.rpm, validators.rpmPackage);
  assert.equal(distributionValidators.apt, validators.aptDistribution);
  assert.equal(distributionValidators.registry, validators.registryDistribution);
  assert.equal(distributionValidators.dnf, validators.dnfDistribution);
});
