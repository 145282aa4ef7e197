// Pure parts of broker credentials: permissions per role, the server config
// text, --pools values and credentials files.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newUserNkey, parseCredentials, publicKeyOf, renderCredentials } from '../../reconciler/broker/credentials.ts';
import { agentPermissions, RECONCILER_PERMISSIONS } from '../../reconciler/broker/permissions.ts';
import { parsePoolSpecs } from '../../reconciler/broker/pool-spec.ts';
import { renderServerConfig } from '../../reconciler/broker/server-config.ts';

test('broker config - an agent may pull and ack only its own pool\'s consumers, and subscribe only to its inbox', () => {
  const p = agentPermissions('deb', ['arm64', 'amd64', 'amd64'], 'UABC');
  const pulls = p.publish.filter((s) => s.includes('MSG.NEXT'));
  assert.deepEqual(pulls, ['$JS.API.CONSUMER.MSG.NEXT.KILN_BUILDS.kiln-build-deb-amd64', '$JS.API.CONSUMER.MSG.NEXT.KILN_BUILDS.kiln-build-deb-arm64']);
  assert.deepEqual(p.publish.filter((s) => s.startsWith('$JS.ACK.')), ['$JS.ACK.KILN_BUILDS.kiln-build-deb-amd64.>', '$JS.ACK.KILN_BUILDS.kiln-build-deb-arm64.>']);
  assert.deepEqual(p.subscribe, ['_INBOX_UABC.>']);
  for (const forbidden of ['>', 'kiln.build.>', '$JS.API.>', '$KV.kiln-lease.>', '$JS.API.STREAM.PURGE.OBJ_kiln-artifacts']) {
    assert.ok(!p.publish.includes(forbidden), `no ${forbidden}`);
  }
  assert.ok(!p.publish.some((s) => s.startsWith('kiln.build.') || s.includes('lease') || s.includes('KILN_RESULTS')), 'no jobs, lease or results stream API');
  assert.ok(p.publish.includes('kiln.result.>') && p.publish.includes('kiln.log.>') && p.publish.includes('$O.kiln-artifacts.C.>'));
  assert.deepEqual(RECONCILER_PERMISSIONS, { publish: ['>'], subscribe: ['>'] });
});

test('broker config - the server config has JetStream, account KILN with nkey users, and TLS only when asked', () => {
  const users = [{ label: 'reconciler', publicKey: 'UREC', permissions: RECONCILER_PERMISSIONS }];
  const plain = renderServerConfig({ listen: '127.0.0.1:4222', storeDir: '/var/lib/kiln/nats', users, generatedBy: 'test' });
  assert.match(plain, /^listen: "127\.0\.0\.1:4222"$/m);
  assert.match(plain, /store_dir: "\/var\/lib\/kiln\/nats"/);
  assert.match(plain, /KILN: \{\n {4}jetstream: enabled/);
  assert.match(plain, /nkey: "UREC"/);
  assert.doesNotMatch(plain, /tls \{/);
  const tls = renderServerConfig({ listen: '0.0.0.0:4222', storeDir: '/s', users, tls: { certFile: '/etc/nats/c.pem', keyFile: '/etc/nats/k.pem' }, generatedBy: 'test' });
  assert.match(tls, /tls \{\n {2}cert_file: "\/etc\/nats\/c\.pem"\n {2}key_file: "\/etc\/nats\/k\.pem"/);
});

test('broker config - --pools values: merged per pool, bad ones named', () => {
  assert.deepEqual(parsePoolSpecs(['deb:amd64', 'deb:arm64,amd64', 'rpm:amd64']), { pools: { deb: ['amd64', 'arm64'], rpm: ['amd64'] }, problems: [] });
  const bad = parsePoolSpecs(['deb', 'de.b:amd64', 'deb:', 'deb:amd64,*']);
  assert.equal(bad.problems.length, 4);
  assert.match(bad.problems[0], /--pools 'deb': expected POOL:ARCH/);
  assert.match(bad.problems[1], /pool 'de\.b' must be/);
  assert.match(bad.problems[3], /arch '\*' must be/);
});

test('broker config - credentials files round-trip; bad ones get file:line:col and the field', () => {
  const { seed, publicKey } = newUserNkey();
  assert.equal(publicKeyOf(seed), publicKey);
  assert.match(publicKey, /^U[A-Z2-7]{55}$/);
  const text = renderCredentials({ user: 'agent-deb', nkey: seed, ca: '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n' }, 'agents of deb');
  assert.deepEqual(parseCredentials('a.creds', text), { value: { user: 'agent-deb', nkey: seed, ca: '-----BEGIN CERTIFICATE-----\nAAA\n-----END CERTIFICATE-----\n' }, diagnostics: [] });
  assert.deepEqual(parseCredentials('p.creds', 'user: ops\npassword: "x y"\n').value, { user: 'ops', password: 'x y' });

  const cases: [string, RegExp][] = [
    ['user: ops\n', /^c\.creds:1:1: .*(password|nkey)/],
    ['user: ops\npassword: a\nnkey: ' + seed + '\n', /^c\.creds:1:1: /],
    ['user: "a.b"\npassword: x\n', /^c\.creds:1:7: user: /],
    ['user: ops\npassword: x\ncolour: red\n', /^c\.creds:3:1: .*colour/],
    ['user: ops\n  password: [\n', /^c\.creds:\d+:\d+: YAML: /],
  ];
  for (const [text, want] of cases) {
    const r = parseCredentials('c.creds', text);
    assert.equal(r.value, undefined, text);
    const line = `${r.diagnostics[0].file}:${r.diagnostics[0].line}:${r.diagnostics[0].col}: ${r.diagnostics[0].message}`;
    assert.match(line, want, text);
  }
});
