import { readFile, writeFile } from 'node:fs/promises';
import { cliReference, commandIndexSource, withReference } from '../reconciler/cli/reference.ts';
import { allCommands } from '../reconciler/cli/registry.ts';

const INDEX = 'reconciler/cli/command-index.ts';
const commands = await allCommands();
const readme = await readFile('README.md', 'utf8');
const next = withReference(readme, cliReference(commands));
const index = await readFile(INDEX, 'utf8').catch(() => '');
const nextIndex = commandIndexSource(commands);
if (process.argv.includes('--check')) {
  if (next !== readme) console.error('README.md CLI reference is out of date: run scripts/cli-reference');
  if (nextIndex !== index) console.error(`${INDEX} is out of date: run scripts/cli-reference`);
  if (next !== readme || nextIndex !== index) process.exitCode = 1;
} else {
  if (next !== readme) {
    await writeFile('README.md', next);
    console.log('README.md CLI reference updated');
  }
  if (nextIndex !== index) {
    await writeFile(INDEX, nextIndex);
    console.log(`${INDEX} updated`);
  }
}
