import { readFile, writeFile } from 'node:fs/promises';
import { withApiReference } from '../reconciler/http/api-reference.ts';

const readme = await readFile('README.md', 'utf8');
const next = await withApiReference(readme);
if (process.argv.includes('--check')) {
  if (next !== readme) {
    console.error('README.md API or metrics reference is out of date: run scripts/api-reference');
    process.exitCode = 1;
  }
} else if (next !== readme) {
  await writeFile('README.md', next);
  console.log('README.md API and metrics reference updated');
}
