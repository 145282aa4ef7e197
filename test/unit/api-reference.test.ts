import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { withApiReference } from '../../reconciler/http/api-reference.ts';
import { ENDPOINTS } from '../../schema/api.ts';

test('api reference - README.md matches the API schemas and metric definitions (run scripts/api-reference)', async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  assert.equal(await withApiReference(readme), readme);
});

test('api reference - every endpoint has a summary; write endpoints need more than viewer', () => {
  for (const e of Object.values(ENDPOINTS)) {
    assert.ok(e.summary.length > 10, `${e.method} ${e.url} has a summary`);
    if (e.method !== 'GET') assert.notEqual(e.role, 'viewer', `${e.method} ${e.url} is a write`);
  }
});
