import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { cliReference, commandIndexSource, withReference } from '../../reconciler/cli/reference.ts';
import { allCommands, findCommand } from '../../reconciler/cli/registry.ts';

test('cli reference - README.md matches the command definitions (run scripts/cli-reference)', async () => {
  const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
  assert.equal(withReference(readme, cliReference(await allCommands())), readme);
});

test('cli reference - reconciler/cli/command-index.ts lists every command with its summary (run scripts/cli-reference)', async () => {
  const index = await readFile(new URL('../../reconciler/cli/command-index.ts', import.meta.url), 'utf8');
  assert.equal(index, commandIndexSource(await allCommands()));
});

test('cli reference - every command is in the file named after its path (commands/agents-drain.ts is kiln agents drain)', async () => {
  for (const c of await allCommands()) {
    const found = await findCommand(c.path);
    assert.deepEqual(found?.command.path, c.path, `kiln ${c.path.join(' ')} is not in reconciler/cli/commands/${c.path.join('-')}.ts`);
    assert.deepEqual(found?.rest, []);
  }
});

test('cli reference - every command has a summary and documented options', async () => {
  for (const c of await allCommands()) {
    assert.ok(c.summary.length > 10, `kiln ${c.path.join(' ')} has a summary`);
    for (const [name, o] of Object.entries(c.options)) assert.ok(o.description, `kiln ${c.path.join(' ')} --${name} is described`);
  }
});
