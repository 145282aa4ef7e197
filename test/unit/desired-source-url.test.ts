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

test('source url - with a remote metadata repo, a relative source resolves against its URL as a git submodule URL does', () => {
  const base = (url: string) => ({ kind: 'url' as const, url });
  const meta = base('https://git.example.org/team/meta.git');
  assert.deepEqual(resolveSourceUrl('../hello', meta), { ok: true, url: 'https://git.example.org/team/hello', local: false });
  assert.deepEqual(resolveSourceUrl('../../other/hello.git', meta), { ok: true, url: 'https://git.example.org/other/hello.git', local: false });
  assert.deepEqual(resolveSourceUrl('./sub', base('http://127.0.0.1:8080/meta.git/')), { ok: true, url: 'http://127.0.0.1:8080/meta.git/sub', local: false });
  assert.deepEqual(resolveSourceUrl('/srv/hello', meta), { ok: true, url: '/srv/hello', local: true }, 'an absolute path stays a path');
  assert.deepEqual(resolveSourceUrl('https://elsewhere.example/x.git', meta), { ok: true, url: 'https://elsewhere.example/x.git', local: false });
  // Next to an ssh metadata repo a relative source is an ssh URL, which agents cannot fetch: said so.
  const ssh = resolveSourceUrl('../hello.git', base('git@git.example.org:team/meta.git'));
  assert.equal(ssh.ok, false);
  assert.match((ssh as { reason: string }).reason, /^'\.\.\/hello\.git' is relative to the metadata repo's URL, which makes it 'git@git\.example\.org:team\/hello\.git': only http\(s\):\/\//);
});
