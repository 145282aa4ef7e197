// Agents run on build hosts without signing code: nothing under agents/ may
// import from reconciler/ (schema/ is the shared contract).
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const AGENTS = fileURLToPath(new URL('../../agents', import.meta.url));

test('agent imports - agents/ never imports reconciler/', async () => {
  const files = (await readdir(AGENTS, { recursive: true })).filter((f) => f.endsWith('.ts'));
  assert.ok(files.length > 5);
  const offenders: string[] = [];
  for (const f of files) {
    const text = await readFile(join(AGENTS, f), 'utf8');
    for (const m of text.matchAll(/(?:from|import)\s*\(?\s*['"]([^'"]+)['"]/g)) {
      if (/(^|\/)reconciler\//.test(m[1])) offenders.push(`agents/${f}: ${m[1]}`);
    }
  }
  assert.deepEqual(offenders, []);
});
