import { readFile, writeFile } from 'node:fs/promises';
import { cliReference, withReference } from '../reconciler/cli/reference.ts';
import { allCommands } from '../reconciler/cli/registry.ts';

const readme = await readFile('README.md', 'utf8');
const next = withReference(readme, cliReference(await allCommands()));
if (process.argv.includes('--check')) {
  if (next !== readme) {
    console.error('README.md CLI reference is out of date: run scripts/cli-reference');
    process.exitCode = 1;
  }
} else if (next !== readme) {
  await writeFile('README.md', next);
  console.log('README.md CLI reference updated');
}
