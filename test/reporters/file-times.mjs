// A node:test reporter that ends the run with the slowest test files (the sum
// of each file's top-level test durations), so a CI log shows where the
// suite's minutes go before it nears its time limit.
//   node --test --test-reporter=spec --test-reporter-destination=stdout \
//        --test-reporter=./test/reporters/file-times.mjs --test-reporter-destination=stderr
// Plain JavaScript: node loads reporters before tsx's --import hook (a .ts
// reporter fails with ERR_UNKNOWN_FILE_EXTENSION); @ts-check keeps it typed.
// @ts-check
import { relative } from 'node:path';

/** @typedef {{ type: string, data: { nesting?: number, file?: string, details?: { duration_ms?: number } } }} TestEvent */

const SHOWN = 15;

/** @param {AsyncIterable<TestEvent>} source */
export default async function* fileTimes(source) {
  /** @type {Map<string, number>} */
  const perFile = new Map();
  for await (const event of source) {
    if (event.type !== 'test:pass' && event.type !== 'test:fail') continue;
    const { nesting, file, details } = event.data;
    if (nesting !== 0 || !file) continue;
    perFile.set(file, (perFile.get(file) ?? 0) + (details?.duration_ms ?? 0));
  }
  const rows = [...perFile].sort((a, b) => b[1] - a[1]);
  const total = rows.reduce((s, [, ms]) => s + ms, 0);
  yield `test: ${rows.length} files, ${(total / 1000).toFixed(0)} s of tests; the slowest:\n`;
  for (const [file, ms] of rows.slice(0, SHOWN)) yield `  ${(ms / 1000).toFixed(1).padStart(6)} s  ${relative(process.cwd(), file)}\n`;
}
