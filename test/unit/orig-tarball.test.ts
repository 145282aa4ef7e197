// The pure parts of making a 3.0 (quilt) upstream tarball: the upstream version
// and the changelog's first entry.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { changelogHead, upstreamVersion } from '../../agents/orig-tarball.ts';

test('orig tarball - the upstream version drops the epoch and the last revision; a native version has none', () => {
  const table: Array<[string, string | undefined]> = [
    ['1.0-1', '1.0'],
    ['2:1.2.3-4', '1.2.3'],
    ['1.0-rc1-2', '1.0-rc1'],
    ['1.0+dfsg-1~bpo12+1', '1.0+dfsg'],
    ['1.0', undefined],
    ['3:1.0', undefined],
  ];
  for (const [version, want] of table) assert.equal(upstreamVersion(version), want, version);
});

test('orig tarball - the changelog head names the source and version; anything else is not read', () => {
  assert.deepEqual(changelogHead('hello (1.0-1) unstable; urgency=medium\n\n  * x\n'), { name: 'hello', version: '1.0-1' });
  assert.equal(changelogHead('  hello (1.0-1) unstable\n'), undefined);
  assert.equal(changelogHead(''), undefined);
});
