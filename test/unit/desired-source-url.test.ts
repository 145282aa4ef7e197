import assert from 'node:assert/strict';
import { test } from 'node:test';
import { resolveSourceUrl } from '../../reconciler/desired/source-url.ts';

test('source url - relative paths resolve against the metadata repo, URLs pass through', () => {
  assert.deepEqual(resolveSourceUrl('../src/hello', '/srv/meta'), { ok: true, url: '/srv/src/hello', local: true });
  assert.deepEqual(resolveSourceUrl('/abs/repo', '/srv/meta'), { ok: true, url: '/abs/repo', local: true });
  assert.deepEqual(resolveSourceUrl('file:///abs/repo%20x', '/srv/meta'), { ok: true, url: '/abs/repo x', local: true });
  assert.deepEqual(resolveSourceUrl('https://git.example.org/hello.git', '/srv/meta'), { ok: true, url: 'https://git.example.org/hello.git', local: false });
});

test('source url - ssh and unknown schemes are refused with a reason', () => {
  for (const u of ['git@github.com:org/repo.git', 'ssh://git@example.org/repo.git', 'git://example.org/repo']) {
    const r = resolveSourceUrl(u, '/srv/meta');
    assert.equal(r.ok, false, u);
    assert.match((r as { reason: string }).reason, /only http\(s\):\/\/ and file:\/\//);
  }
});
