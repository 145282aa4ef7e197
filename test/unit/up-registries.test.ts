import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { DesiredState } from '../../reconciler/model.ts';
import { localRegistryPlan } from '../../reconciler/up/registries.ts';
import { UsageError } from '../../schema/errors.ts';

const state = (prodUrl: string) =>
  ({
    packages: new Map(),
    distributions: new Map<string, unknown>([
      ['candidate', { name: 'candidate', file: 'distributions/candidate.yaml', format: 'registry', url: '127.0.0.1:5000', repository: 'kiln' }],
      ['production', { name: 'production', file: 'distributions/production.yaml', format: 'registry', url: prodUrl, repository: 'prod', promoteFrom: 'candidate' }],
    ]),
  }) as unknown as DesiredState;

test('up registries - a promoted distribution on the candidate registry is refused (agents could write it); its own registry is run', () => {
  assert.throws(() => localRegistryPlan(state('127.0.0.1:5000')), (e: unknown) => e instanceof UsageError && /^distributions\/production\.yaml: url: 127\.0\.0\.1:5000 is also the registry of candidate/.test(e.message));
  assert.deepEqual(localRegistryPlan(state('127.0.0.1:5001')), { hosts: ['127.0.0.1:5000', '127.0.0.1:5001'], candidate: '127.0.0.1:5000', seeds: [] });
});
