// Incremental reads keep unchanged packages as the same objects, so work
// memoised on them (build keys) is not redone: a one-change pass costs one change.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { readDesired } from '../../reconciler/desired/read-desired.ts';
import { commitFiles, makeRepo } from '../helpers/git.ts';

const pkg = (name: string, rebuild = 0) =>
  `name: ${name}\nversion: 1.0-1\nsource:\n  git: ../src/${name}\n  ref: ${'c'.repeat(40)}\nformat: deb\narchitectures: [amd64]\nrebuild: ${rebuild}\n`;
const KILN = 'trust:\n  requireSignedCommits: false\npools:\n  deb:\n    architectures: [amd64]\n';

test('desired reuse - unchanged packages keep their identity across an incremental read; changed ones do not', async () => {
  const { dir } = await makeRepo({ 'kiln.yaml': KILN, 'packages/aa.yaml': pkg('aa'), 'packages/bb.yaml': pkg('bb') });
  const cache = {};
  // The sources are not what this is about: every pinned id is taken as is.
  const resolveSource = async (_url: string, ref: string) => ref;
  const first = await readDesired({ dir, rev: 'HEAD', cache, resolveSource });
  await commitFiles(dir, { 'packages/bb.yaml': pkg('bb', 1) });
  const second = await readDesired({ dir, rev: 'HEAD', cache, previous: first.snapshot, resolveSource });
  assert.equal(second.state.packages.get('aa'), first.state.packages.get('aa'));
  assert.notEqual(second.state.packages.get('bb'), first.state.packages.get('bb'));
  assert.equal(second.state.packages.get('bb')?.rebuild, 1);

  // A kiln.yaml change re-normalises everything (defaults may have changed).
  await commitFiles(dir, { 'kiln.yaml': KILN + 'defaults:\n  image: other/image\n' });
  const third = await readDesired({ dir, rev: 'HEAD', cache, previous: second.snapshot, resolveSource });
  assert.notEqual(third.state.packages.get('aa'), second.state.packages.get('aa'));
  assert.equal(third.state.packages.get('aa')?.image, 'other/image');
});
