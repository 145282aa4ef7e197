import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cacheControl, contentType, notModified, resolvedPathAllowed, resolveRequestPath } from '../../reconciler/serve/request-path.ts';
import { parseListen } from '../../reconciler/cli/commands/serve.ts';

test('serve path - plain paths resolve, traversal and hidden files do not', () => {
  assert.deepEqual(resolveRequestPath('/stable/dists/stable/InRelease?x=1'), { ok: true, rel: 'stable/dists/stable/InRelease' });
  assert.deepEqual(resolveRequestPath('/a//b/'), { ok: true, rel: 'a/b' });
  for (const p of ['/../etc/passwd', '/a/%2e%2e/%2e%2e/etc/passwd', '/a/..%2f..%2fetc', '/a%5c..%5cb', '/a/%00', '/%E0%A4%A']) {
    assert.equal(resolveRequestPath(p).ok, false, p);
  }
  assert.deepEqual(resolveRequestPath('/stable/.kiln/state.json'), { ok: false, status: 404, reason: 'hidden files are not served' });
  assert.equal(resolveRequestPath('/').ok, false);
});

test('serve path - If-Modified-Since compares whole seconds', () => {
  const mtime = Date.parse('2026-01-01T00:00:00.700Z');
  assert.equal(notModified('Thu, 01 Jan 2026 00:00:00 GMT', mtime), true);
  assert.equal(notModified('Wed, 31 Dec 2025 23:59:59 GMT', mtime), false);
  assert.equal(notModified('garbage', mtime), false);
  assert.equal(notModified(undefined, mtime), false);
});

test('serve path - content types and --listen parsing', () => {
  assert.equal(contentType('s/dists/s/InRelease'), 'text/plain; charset=utf-8');
  assert.equal(contentType('s/pool/main/h/hello/hello_1_all.deb'), 'application/vnd.debian.binary-package');
  assert.equal(contentType('s/dists/s/main/source/Sources'), 'text/plain; charset=utf-8');
  assert.equal(contentType('s/pool/main/h/hello/hello_1.dsc'), 'text/plain; charset=utf-8');
  assert.equal(contentType('s/dists/s/main/source/Sources.xz'), 'application/x-xz');
  assert.deepEqual(parseListen('0.0.0.0:8080'), { host: '0.0.0.0', port: 8080 });
  assert.deepEqual(parseListen('[::1]:9'), { host: '::1', port: 9 });
  assert.deepEqual(parseListen('8081'), { host: '127.0.0.1', port: 8081 });
  assert.throws(() => parseListen('host:99999'), /--listen takes HOST:PORT/);
});

test('serve path - pool files and by-hash indexes are immutable, the rest is revalidated', () => {
  assert.match(cacheControl('stable/pool/main/h/hello/hello_1_all.deb'), /immutable/);
  assert.match(cacheControl('stable/dists/stable/main/binary-amd64/by-hash/SHA256/ab12'), /immutable/);
  assert.equal(cacheControl('stable/dists/stable/InRelease'), 'no-cache');
  assert.equal(cacheControl('stable/dists/stable/main/binary-amd64/Packages.gz'), 'no-cache');
});

test('serve path - a resolved path must be strictly under the root and hide nothing', () => {
  assert.equal(resolvedPathAllowed('/srv/repos', '/srv/repos/web/dists/stable/InRelease'), true);
  assert.equal(resolvedPathAllowed('/srv/repos', '/srv/repos'), false);
  assert.equal(resolvedPathAllowed('/srv/repos', '/srv/repos-other/x'), false);
  assert.equal(resolvedPathAllowed('/srv/repos', '/etc/passwd'), false);
  assert.equal(resolvedPathAllowed('/srv/repos', '/srv/repos/web/.kiln/state.json'), false);
  assert.equal(resolvedPathAllowed('/srv/repos', '/srv/repos/.tmp-1/x'), false);
  assert.equal(resolvedPathAllowed('/srv/repos', '/srv/repos/web/pool/a.deb'), true);
});
