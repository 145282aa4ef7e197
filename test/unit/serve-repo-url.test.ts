import assert from 'node:assert/strict';
import { test } from 'node:test';
import { servedReposUrl } from '../../reconciler/serve/repo-url.ts';

test('serve - the default repoUrl is the listen address, or the host name for a wildcard', () => {
  assert.equal(servedReposUrl('127.0.0.1', 8080, 'build1'), 'http://127.0.0.1:8080/repos');
  assert.equal(servedReposUrl('0.0.0.0', 8080, 'build1.example.org'), 'http://build1.example.org:8080/repos');
  assert.equal(servedReposUrl('::', 8080, 'build1'), 'http://build1:8080/repos');
  assert.equal(servedReposUrl('::1', 9000, 'build1'), 'http://[::1]:9000/repos');
});
