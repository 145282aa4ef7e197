import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { test } from 'node:test';
import { decodeUtf8, firstInvalidUtf8, flowDepthExceeded, lineColOfByte } from '../../reconciler/desired/source-text.ts';
import { seededRandom } from '../helpers/seeded.ts';

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

test('utf-8 check - the native fast check accepts exactly what the byte scan accepts (seeded random bytes)', (t) => {
  const { random } = seededRandom(t);
  // Bytes near UTF-8's edges: lead bytes, continuations, overlongs, surrogates, > U+10FFFF, truncations.
  const interesting = [0x00, 0x0a, 0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
  const valid = ['é', '€', '😀', '\u{10ffff}', '\u{d7ff}', '\u{e000}', 'ab\n'].map((s) => [...Buffer.from(s, 'utf8')]);
  for (let n = 0; n < 20000; n++) {
    const bytes: number[] = [];
    const len = Math.floor(random() * 12);
    for (let i = 0; i < len; i++) {
      const r = random();
      if (r < 0.4) bytes.push(...valid[Math.floor(random() * valid.length)]);
      else if (r < 0.8) bytes.push(interesting[Math.floor(random() * interesting.length)]);
      else bytes.push(Math.floor(random() * 256));
    }
    const b = Uint8Array.from(bytes);
    const slow = firstInvalidUtf8(b);
    assert.equal(isUtf8(b), slow === -1, JSON.stringify(bytes));
    assert.deepEqual(decodeUtf8(b), slow === -1 ? { ok: true, text: Buffer.from(b).toString('utf8') } : { ok: false, offset: slow, ...lineColOfByte(b, slow) });
  }
});
