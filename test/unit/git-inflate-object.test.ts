// inflateObject against node's zlib: the same bytes for random objects of many sizes
// (text-like and incompressible, empty included), node's error for a corrupt stream.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deflateSync, inflateSync } from 'node:zlib';
import { inflateObject } from '../../reconciler/git/inflate-object.ts';
import { seededRandom } from '../helpers/seeded.ts';

test('git inflate object - equals node zlib on random objects, and fails as node does on a corrupt one', (t) => {
  const { random, seed } = seededRandom(t);
  for (let i = 0; i < 300; i++) {
    const size = i === 0 ? 0 : Math.floor(random() ** 3 * 200_000);
    const bytes = Buffer.alloc(size);
    const alphabet = random() < 0.5 ? 256 : 8;
    for (let k = 0; k < size; k++) bytes[k] = Math.floor(random() * alphabet) + (alphabet === 8 ? 97 : 0);
    const z = deflateSync(bytes, { level: Math.floor(random() * 10) });
    assert.deepEqual(inflateObject(z, size), bytes, `seed ${seed} object ${i} (${size} bytes)`);
    // A header that states another size is not trusted: node's answer.
    assert.deepEqual(inflateObject(z, size + 1), inflateSync(z), `seed ${seed} object ${i}: wrong size`);
  }
  const z = deflateSync(Buffer.from('name: hello\n'.repeat(20)));
  const bad = Buffer.from(z);
  bad[bad.length - 1] ^= 1; // Adler-32
  assert.throws(() => inflateObject(bad, 240), (e: NodeJS.ErrnoException) => e.code === 'Z_DATA_ERROR');
  const garbled = Buffer.from(z);
  garbled[4] ^= 0xff;
  assert.throws(() => inflateObject(garbled, 240), (e: NodeJS.ErrnoException) => e.code !== undefined);
});
