// The NATS wire contracts both sides rely on: message ids, KV keys and values,
// and the one rule for pool/arch names.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { drainKey, identityProblem, isLeaseValue, jobMsgId, LEASE_KEY, resultMsgId, SUBJECTS } from '../../schema/nats.ts';

test('schema nats - message ids: one per attempt, results apart from jobs', () => {
  assert.equal(jobMsgId('k', 2), 'k.2');
  assert.equal(resultMsgId('k', 2), 'k.2.result');
  assert.notEqual(jobMsgId('k', 1), jobMsgId('k', 2));
});

test('schema nats - KV keys and the lease value', () => {
  assert.equal(drainKey('host-deb-amd64-1'), 'drain.host-deb-amd64-1');
  assert.equal(LEASE_KEY, 'reconciler');
  assert.equal(isLeaseValue({ holder: 'a', expiresAt: '2026-01-01T00:00:00.000Z' }), true);
  for (const bad of [null, 'x', {}, { holder: 1, expiresAt: 'x' }, { holder: 'a' }]) assert.equal(isLeaseValue(bad), false, JSON.stringify(bad));
});

test('schema nats - pool and arch names: one rule, the one kiln.yaml uses', () => {
  const cases: { name: string; pool: string; arch: string; id?: string; want: RegExp | undefined }[] = [
    { name: 'ordinary', pool: 'deb', arch: 'amd64', want: undefined },
    { name: 'underscore and dash', pool: 'gpu_big-1', arch: 'arm64', id: 'h-deb-amd64-1', want: undefined },
    { name: 'upper case pool (kiln.yaml cannot declare it)', pool: 'Deb', arch: 'amd64', want: /pool 'Deb' must be 1-31 lowercase/ },
    { name: 'upper case arch', pool: 'deb', arch: 'AMD64', want: /arch 'AMD64' must be/ },
    { name: 'dot would split the subject', pool: 'deb.x', arch: 'amd64', want: /pool 'deb.x'/ },
    { name: 'wildcard', pool: 'deb', arch: '*', want: /arch '\*'/ },
    { name: 'too long', pool: 'p'.repeat(32), arch: 'amd64', want: /must be 1-31/ },
    { name: 'agent id with a dot', pool: 'deb', arch: 'amd64', id: 'a.b', want: /agent id 'a.b'/ },
  ];
  for (const c of cases) {
    const got = identityProblem(c.pool, c.arch, c.id);
    if (c.want) assert.match(got ?? '', c.want, c.name);
    else assert.equal(got, undefined, c.name);
  }
  assert.equal(SUBJECTS.build('deb', 'amd64'), 'kiln.build.deb.amd64');
});
