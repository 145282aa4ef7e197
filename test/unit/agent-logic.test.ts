import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultAgentId } from '../../agents/agent.ts';
import { classify, tail } from '../../agents/classify.ts';
import { aptFailure } from '../../agents/deps-image.ts';
import { safeSubdir, sourceLocation } from '../../agents/fetch-source.ts';
import { isFinalDelivery } from '../../agents/job-handler.ts';
import { objectDigestHex } from '../../agents/upload.ts';

const limits = { memoryMiB: 256, timeoutSeconds: 60 };
const ok = { exitCode: 0, oomKilled: false, timedOut: false, artifacts: ['/w/a.deb'] };

test('agent classify - exit 0 with artifacts succeeds', () => {
  assert.deepEqual(classify(ok, limits), { outcome: 'succeeded' });
});

test('agent classify - recipe failure is build; OOM and timeout are limit; runner-known failures keep their class', () => {
  assert.equal(classify({ ...ok, exitCode: 2, artifacts: [] }, limits).failureClass, 'build');
  assert.deepEqual(classify({ ...ok, exitCode: 137, oomKilled: true, artifacts: [] }, limits), { outcome: 'failed', failureClass: 'limit', reason: 'out of memory (limit 256 MiB)' });
  assert.deepEqual(classify({ ...ok, exitCode: 137, timedOut: true, artifacts: [] }, limits), { outcome: 'failed', failureClass: 'limit', reason: 'timed out after 60 s' });
  assert.equal(classify({ ...ok, artifacts: [] }, limits).failureClass, 'build');
  assert.deepEqual(classify({ ...ok, exitCode: -1, failure: { class: 'infra', reason: 'apt down' } }, limits), { outcome: 'failed', failureClass: 'infra', reason: 'apt down' });
});

test('agent classify - tail keeps the last lines, bounded in size', () => {
  const text = Array.from({ length: 100 }, (_, i) => `line ${i}`).join('\n') + '\n';
  const t = tail(text, 50);
  assert.equal(t.split('\n').length, 50);
  assert.ok(t.startsWith('line 50') && t.endsWith('line 99'));
  assert.equal(tail('x'.repeat(10_000), 50, 100).length, 100);
});

test('agent apt - unmet dependencies are quoted as a build failure; network trouble is infra', () => {
  const out = 'Reading package lists...\nSome packages could not be installed.\nThe following packages have unmet dependencies:\n satisfy:command-line : Depends: kiln-nope but it is not installable\nE: Unable to correct problems, you have held broken packages.\n';
  assert.deepEqual(aptFailure(out), {
    class: 'build',
    reason: 'cannot install Build-Depends: satisfy:command-line : Depends: kiln-nope but it is not installable\nE: Unable to correct problems, you have held broken packages.',
  });
  assert.equal(aptFailure('W: Failed to fetch http://deb.debian.org/debian/dists/bookworm/InRelease  Temporary failure resolving\nE: Some index files failed to download.').class, 'infra');
});

test('agent source - locations: absolute path, file:// and http(s); anything else refused', () => {
  assert.deepEqual(sourceLocation('/srv/git/hello'), { kind: 'local', path: '/srv/git/hello' });
  assert.deepEqual(sourceLocation('file:///srv/git/hello'), { kind: 'local', path: '/srv/git/hello' });
  assert.deepEqual(sourceLocation('https://git.example/hello.git'), { kind: 'http', url: 'https://git.example/hello.git' });
  assert.throws(() => sourceLocation('git@example:hello.git'), /only absolute paths, file:\/\/ and http\(s\):\/\/ URLs/);
  assert.throws(() => sourceLocation('relative/dir'), /only absolute paths/);
});

test('agent source - subdir stays inside the tree', () => {
  assert.equal(safeSubdir(undefined), '');
  assert.equal(safeSubdir('pkg/./hello/'), 'pkg/hello');
  assert.throws(() => safeSubdir('../etc'), /must be a relative path inside the repository/);
  assert.throws(() => safeSubdir('/etc'), /must be a relative path/);
});

test('agent delivery - only the last allowed delivery is reported as poison', () => {
  assert.equal(isFinalDelivery(1, 5), false);
  assert.equal(isFinalDelivery(4, 5), false);
  assert.equal(isFinalDelivery(5, 5), true);
  assert.equal(isFinalDelivery(1, 1), false, 'max_deliver 1 leaves no spare delivery to report with: build');
  assert.equal(isFinalDelivery(50, -1), false, 'unbounded');
});

test('agent ids and digests - default id is KV-safe; object digests read as hex', () => {
  assert.equal(defaultAgentId('deb', 'amd64', 'build.host.example', 42), 'build-host-example-deb-amd64-42');
  const hex = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
  assert.equal(objectDigestHex('SHA-256=' + Buffer.from(hex, 'hex').toString('base64url') + '='), hex);
  assert.equal(objectDigestHex('MD5=xyz'), undefined);
});
