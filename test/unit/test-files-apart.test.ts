// scripts/test runs test files concurrently, so files must not share what an
// agent owns: an agent removes, at its start, every container labelled with its
// id (leftovers of an earlier run of itself). Two files starting agents with the
// same id kill each other's builds (seen: a build ended 137 mid-run, its
// container "marked for removal"). Agent ids given as literals are unique per file.
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';

const ROOT = join(import.meta.dirname, '..');
/** `new Agent({ … id: 'x' …`, `'--id', 'x'` (kiln agent on the command line), harness `.agent('x'`. */
const AGENT_ID = /(?:\bid: |'--id', |\.agent\()'([A-Za-z0-9._-]+)'/g;

async function files(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    if (e.isDirectory()) out.push(...(await files(join(dir, e.name))));
    else if (e.name.endsWith('.ts')) out.push(join(dir, e.name));
  }
  return out;
}

test('test files apart - no agent id is used by two test files (they run concurrently)', async () => {
  const users = new Map<string, Set<string>>();
  for (const f of [...(await files(join(ROOT, 'integration'))), ...(await files(join(ROOT, 'helpers')))]) {
    const text = await readFile(f, 'utf8');
    if (!/new Agent\(|'agent',|\.agent\(/.test(text)) continue;
    for (const m of text.matchAll(AGENT_ID)) users.set(m[1], (users.get(m[1]) ?? new Set()).add(f.slice(ROOT.length + 1)));
  }
  const shared = [...users].filter(([, fs]) => fs.size > 1).map(([id, fs]) => `${id}: ${[...fs].join(', ')}`);
  assert.deepEqual(shared, []);
});
