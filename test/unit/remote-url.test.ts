import assert from 'node:assert/strict';
import { test } from 'node:test';
import { displayUrl, parseRepoLocation, repoId } from '../../reconciler/remote/remote-url.ts';
import { pushBackoffMs } from '../../reconciler/remote/push-status.ts';

test('remote url - --repo forms: directory, https, http, ssh://, user@host:path', () => {
  const cases: Array<[string, ReturnType<typeof parseRepoLocation>]> = [
    ['./metadata', { kind: 'dir', dir: './metadata' }],
    ['/srv/meta', { kind: 'dir', dir: '/srv/meta' }],
    ['C:meta', { kind: 'dir', dir: 'C:meta' }],
    ['https://git.example.org/team/meta.git', { kind: 'http', url: 'https://git.example.org/team/meta.git' }],
    ['http://127.0.0.1:8080/meta.git', { kind: 'http', url: 'http://127.0.0.1:8080/meta.git' }],
    ['ssh://git@git.example.org:2222/team/meta.git', { kind: 'ssh', url: 'ssh://git@git.example.org:2222/team/meta.git' }],
    ['git@github.com:team/meta.git', { kind: 'ssh', url: 'git@github.com:team/meta.git' }],
  ];
  for (const [arg, want] of cases) assert.deepEqual(parseRepoLocation(arg), want, arg);
});

test('remote url - bad URLs are usage errors naming the problem', () => {
  const bad: Array<[string, RegExp]> = [
    ['https://user:tok3n@git.example.org/meta.git', /--git-token-file or KILN_GIT_TOKEN/],
    ['git://git.example.org/meta.git', /unsupported scheme git:\/\//],
    ['https://git.example.org/', /names no repository path/],
    ['https://exa mple.org/x', /not a valid URL/],
  ];
  for (const [arg, msg] of bad) {
    assert.throws(() => parseRepoLocation(arg), (e: Error & { code?: string }) => e.code === 'KILN_USAGE' && msg.test(e.message) && !e.message.includes('tok3n'), arg);
  }
});

test('remote url - repo ids are readable, file-name safe and distinct per URL', () => {
  const a = repoId('https://git.example.org/team/meta.git');
  assert.match(a, /^git\.example\.org-team-meta-[0-9a-f]{10}$/);
  assert.match(repoId('git@github.com:team/meta.git'), /^github\.com-team-meta-[0-9a-f]{10}$/);
  assert.match(repoId('ssh://git@h:2222/x/y.git'), /^h_2222-x-y-[0-9a-f]{10}$/);
  assert.notEqual(a, repoId('https://git.example.org/team/meta'));
  assert.equal(displayUrl('https://bot@git.example.org/m.git'), 'https://git.example.org/m.git');
});

test('remote url - push backoff doubles to a cap, with jitter from the given source', () => {
  assert.deepEqual([1, 2, 3, 10].map((n) => pushBackoffMs(n, () => 0.5)), [100, 200, 400, 3000]);
  assert.equal(pushBackoffMs(1, () => 0), 50);
});
