import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeUtf8, firstInvalidUtf8, flowDepthExceeded, lineColOfByte } from '../../reconciler/desired/source-text.ts';

test('utf-8 check - accepts valid text of every sequence length', () => {
  const b = Buffer.from('a: é € 😀 z\n', 'utf8');
  assert.equal(firstInvalidUtf8(b), -1);
  assert.deepEqual(decodeUtf8(b), { ok: true, text: 'a: é € 😀 z\n' });
});

test('utf-8 check - finds the first bad byte and its line:col', () => {
  const table: Array<[number[], number]> = [
    [[0x61, 0xff], 1],
    [[0x61, 0xc3], 1], // truncated two-byte sequence
    [[0xc0, 0x80], 0], // overlong NUL
    [[0xed, 0xa0, 0x80], 0], // UTF-16 surrogate
    [[0xf4, 0x90, 0x80, 0x80], 0], // above U+10FFFF
    [[0x61, 0x0a, 0x62, 0x62, 0xe9, 0x0a], 4], // latin-1 é
  ];
  for (const [bytes, offset] of table) assert.equal(firstInvalidUtf8(Uint8Array.from(bytes)), offset, JSON.stringify(bytes));
  assert.deepEqual(decodeUtf8(Uint8Array.from([0x61, 0x0a, 0x62, 0x62, 0xe9, 0x0a])), { ok: false, offset: 4, line: 2, col: 3 });
  assert.deepEqual(lineColOfByte(Buffer.from('ab\ncd\nef'), 7), { line: 3, col: 2 });
});

test('flow depth - refuses bracket nesting past the limit, counting brackets anywhere', () => {
  assert.equal(flowDepthExceeded('a: [[1], {b: [2]}]\n', 3), undefined);
  assert.deepEqual(flowDepthExceeded('a: 1\nb: [[[[x]]]]\n', 3), { line: 2, col: 7 });
  assert.equal(flowDepthExceeded('a: [' + '[]'.repeat(1000) + ']', 2), undefined, 'siblings do not add up');
  assert.deepEqual(flowDepthExceeded("a: 'it''s [[[[ in quotes'", 3), { line: 1, col: 14 }, 'quotes do not hide brackets');
});
