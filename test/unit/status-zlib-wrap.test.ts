// The zlib streams git objects are written in: small ones as stored blocks (zlib-wrap.ts),
// which zlib itself inflates back (checking the Adler-32), bigger ones deflated.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { inflateSync } from 'node:zlib';
import { STORED_MAX, zlibStored, zlibWrap } from '../../reconciler/status/zlib-wrap.ts';
import { seededRandom } from '../helpers/seeded.ts';

const bytes = (n: number, random: () => number) => Buffer.from(Array.from({ length: n }, () => Math.floor(random() * 256)));

test('status zlib wrap - stored streams inflate to their bytes at block edges (0, 1, 65,535, 65,536, three blocks)', (t) => {
  const { random } = seededRandom(t);
  for (const n of [0, 1, 2, 65_535, 65_536, 65_535 * 2 + 7]) {
    const data = bytes(n, random);
    const z = zlibStored(data);
    assert.equal(z.length, 2 + Math.max(1, Math.ceil(n / 65_535)) * 5 + n + 4, `size ${n}`);
    assert.deepEqual(inflateSync(z), data, `size ${n}`);
  }
});

test('status zlib wrap - random objects read back: stored up to STORED_MAX, compressed above', (t) => {
  const { random, seed } = seededRandom(t);
  for (let i = 0; i < 300; i++) {
    const n = Math.floor(random() * STORED_MAX * 2);
    // Text-like (compressible) or random bytes.
    const data = random() < 0.5 ? Buffer.from('key: value\n'.repeat(n).slice(0, n)) : bytes(n, random);
    const z = zlibWrap(data);
    assert.deepEqual(inflateSync(z), data, `seed ${seed} case ${i} (${n} bytes)`);
    if (n <= STORED_MAX) assert.equal(z.length, n + 11, `seed ${seed} case ${i}: stored`);
  }
  const big = Buffer.from('key: value\n'.repeat(1000));
  assert.ok(zlibWrap(big).length < big.length / 10, 'a big object is compressed');
});
