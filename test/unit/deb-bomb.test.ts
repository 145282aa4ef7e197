import assert from 'node:assert/strict';
import { test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { decompressMember, MAX_CONTROL_BYTES } from '../../reconciler/publish/deb/control-tar.ts';

test('deb read - a control archive that expands past the limit is refused, not decompressed into memory', async () => {
  const bomb = gzipSync(Buffer.alloc(MAX_CONTROL_BYTES * 2));
  assert.ok(bomb.length < 100_000, 'a small file');
  await assert.rejects(decompressMember('control.tar.gz', bomb, 'evil.deb'), (e: Error & { code?: string }) => {
    assert.equal(e.code, 'KILN_DEB_FORMAT');
    assert.match(e.message, /evil\.deb: cannot decompress control\.tar\.gz/);
    return true;
  });
});
