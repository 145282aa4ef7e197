import assert from 'node:assert/strict';
import { test } from 'node:test';
import { releasedTags } from '../../reconciler/records/release-tags.ts';
import type { ReleaseRecord } from '../../schema/status.ts';

const d = (c: string) => `sha256:${c.repeat(64)}`;

test('release tags - a row keeps the desired commit that released its digest; a moved or new tag takes the current one', () => {
  const previous: ReleaseRecord = {
    distribution: 'images',
    desiredCommit: 'c1',
    packages: [],
    tags: [
      { repository: 'kiln/app', tag: '1.0', digest: d('a'), desiredCommit: 'c1' },
      { repository: 'kiln/app', tag: 'latest', digest: d('a'), desiredCommit: 'c1' },
    ],
  };
  const rows = releasedTags(
    [
      { repository: 'kiln/app', tag: 'latest', digest: d('b') },
      { repository: 'kiln/app', tag: '2.0', digest: d('b') },
      { repository: 'kiln/app', tag: '1.0', digest: d('a') },
    ],
    previous,
    'c2',
  );
  assert.deepEqual(rows, [
    { repository: 'kiln/app', tag: '1.0', digest: d('a'), desiredCommit: 'c1' },
    { repository: 'kiln/app', tag: '2.0', digest: d('b'), desiredCommit: 'c2' },
    { repository: 'kiln/app', tag: 'latest', digest: d('b'), desiredCommit: 'c2' },
  ]);
  assert.deepEqual(releasedTags([{ repository: 'r', tag: 't', digest: d('c') }], undefined, 'c3'), [{ repository: 'r', tag: 't', digest: d('c'), desiredCommit: 'c3' }]);
});
