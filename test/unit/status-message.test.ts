import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatMessage, messageProblem, parseTrailers } from '../../reconciler/status/message.ts';

const D = 'd'.repeat(40);

test('status message - Kiln-Desired comes first, then the trailers in the order given', () => {
  const msg = formatMessage('record 3 builds', { 'Kiln-Builds': 3, 'Kiln-Desired': D, 'Kiln-Releases': 1 });
  assert.equal(msg, `record 3 builds\n\nKiln-Desired: ${D}\nKiln-Builds: 3\nKiln-Releases: 1\n`);
});

test('status message - trailers parse back from the last paragraph', () => {
  const msg = formatMessage('x', { 'Kiln-Desired': D, 'Kiln-Builds': 2 });
  assert.deepEqual(parseTrailers(msg), { 'Kiln-Desired': D, 'Kiln-Builds': '2' });
});

test('status message - a message without a trailer block has no trailers', () => {
  assert.deepEqual(parseTrailers('just a summary\n'), {});
  assert.deepEqual(parseTrailers('summary\n\nsome prose: with a colon\nand more prose\n'), {});
  assert.deepEqual(formatMessage('only summary', {}), 'only summary\n');
});

test('status message - multi-line summaries and bad trailers are refused', () => {
  assert.match(messageProblem('two\nlines', {})!, /one line/);
  assert.match(messageProblem(' ', {})!, /empty/);
  assert.match(messageProblem('ok', { 'Bad Key': 1 })!, /trailer key/);
  assert.match(messageProblem('ok', { 'Kiln-X': 'a\nb' })!, /single line/);
  assert.equal(messageProblem('ok', { 'Kiln-Desired': D }), undefined);
});
