import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EngineLogLength } from '../../containers/engine-log-length.ts';

const cases: [string, number[], number][] = [
  ['ASCII', [...Buffer.from('hello\n')], 6],
  ['valid 2, 3 and 4-byte sequences', [...Buffer.from('é€😀')], 2 + 3 + 4],
  ['one invalid byte is U+FFFD (3 bytes)', [0xff], 3],
  ['a lone continuation byte', [0x80, 0x41], 3 + 1],
  ['an overlong lead (C0)', [0xc0, 0xaf], 3 + 3],
  ['a surrogate (ED A0 80): each byte alone', [0xed, 0xa0, 0x80], 9],
  ['a lead cut by a non-continuation byte', [0xe2, 0x82, 0x41], 3 + 3 + 1],
  ['above U+10FFFF (F4 90)', [0xf4, 0x90, 0x80, 0x80], 12],
];

test('engine log length - bytes as the json-file driver stores them, however the chunks split them', () => {
  for (const [name, bytes, want] of cases) {
    const buf = Buffer.from(bytes);
    for (let cut = 0; cut <= buf.length; cut++) {
      const n = new EngineLogLength();
      n.add(buf.subarray(0, cut));
      n.add(buf.subarray(cut));
      assert.equal(n.length, want, `${name}, split at ${cut}`);
    }
  }
});

test('engine log length - a sequence not yet complete counts as its raw bytes (never more than the log holds)', () => {
  const n = new EngineLogLength();
  n.add(Buffer.from([0x41, 0xf0, 0x9f]));
  assert.equal(n.length, 3);
  n.add(Buffer.from([0x98, 0x80]));
  assert.equal(n.length, 5);
});
