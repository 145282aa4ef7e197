// Registry credentials without a registry: reading a containers-auth.json (a bad
// one names file, line and field; `kiln agent` and `kiln reconcile` exit 2 with
// it before connecting anywhere), kiln up's htpasswd lines, the refusals skopeo
// prints classed as usage errors, and the pass putting the reconciler's
// credentials on registry distributions only.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import bcrypt from 'bcryptjs';
import { parseRegistryAuth, renderAuthFile } from '../../oci/registry-auth.ts';
import { readRegistryAuth } from '../../reconciler/cli/registry-auth.ts';
import { skopeoError } from '../../oci/skopeo.ts';
import { htpasswdLines } from '../../reconciler/up/registry-credentials.ts';
import { RegistryError, UsageError } from '../../schema/errors.ts';
import { runKiln } from '../helpers/cli.ts';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

test('registry auth - a containers-auth.json gives each host its user and password (a password may hold colons); render reads back', () => {
  const text = renderAuthFile({ '127.0.0.1:5000': { username: 'kiln-agent', password: 'a:b:c' }, 'registry.example.org': { username: 'r', password: 'p' } });
  const { value, diagnostics } = parseRegistryAuth('auth.json', text);
  assert.deepEqual(diagnostics, []);
  assert.deepEqual([...value!.hosts], [['127.0.0.1:5000', { username: 'kiln-agent', password: 'a:b:c' }], ['registry.example.org', { username: 'r', password: 'p' }]]);
  // Docker's config.json carries other settings: only `auths` is read.
  assert.ok(parseRegistryAuth('config.json', JSON.stringify({ auths: {}, credsStore: 'desktop' })).value);
});

test('registry auth - bad files name file, line and field', () => {
  const at = (text: string) => parseRegistryAuth('auth.json', text).diagnostics.map((d) => `${d.file}:${d.line}: ${d.message}`);
  assert.match(at('{"auths": {')[0], /^auth\.json:1: not JSON/);
  assert.match(at('{\n  "auths": {\n    "127.0.0.1:5000": {\n      "user": "x"\n    }\n  }\n}\n').join('\n'), /^auth\.json:3: auths\.127\.0\.0\.1:5000\.auth: must have required property 'auth'/m);
  assert.match(at(`{\n  "auths": {\n    "h:1": { "auth": "${b64('no-colon')}" }\n  }\n}\n`)[0], /^auth\.json:3: auths\.h:1\.auth: not base64 of USER:PASSWORD/);
  assert.match(at('{\n  "auths": {\n    "h:1": { "auth": "not base64!" }\n  }\n}\n')[0], /^auth\.json:3: auths\.h:1\.auth: must match pattern/);
  assert.match(at('{ "other": 1 }')[0], /^auth\.json:1: auths: must have required property 'auths'/);
});

test('registry auth - an unreadable file is a usage error naming the flag and the file', async () => {
  await assert.rejects(readRegistryAuth('/nonexistent/auth.json'), (e: unknown) => e instanceof UsageError && /--registry-auth: cannot read registry credentials \/nonexistent\/auth\.json/.test(e.message));
});

test('registry auth - kiln agent and kiln reconcile refuse a bad --registry-auth with file:line, exit 2, before connecting', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-registry-auth-'));
  dirs.push(dir);
  const bad = join(dir, 'auth.json');
  await writeFile(bad, '{\n  "auths": {\n    "127.0.0.1:5000": {}\n  }\n}\n');
  for (const args of [['agent', '--nats', 'nats://127.0.0.1:1', '--pool', 'oci', '--work-dir', join(dir, 'w')], ['reconcile', '--repo', dir, '--once']]) {
    const r = await runKiln([...args, '--registry-auth', bad]);
    assert.equal(r.code, 2, `${args[0]}: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`${bad.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:3:\\d+: auths\\.127\\.0\\.0\\.1:5000\\.auth`), `${args[0]}: ${r.stderr}`);
  }
});

test('registry auth - kiln up\'s htpasswd lines hold a bcrypt hash of each password', () => {
  const lines = htpasswdLines([{ username: 'kiln-agent', password: 'pw1' }, { username: 'kiln-reconciler', password: 'pw2' }]).trim().split('\n');
  assert.equal(lines.length, 2);
  const [user, hash] = lines[0].split(/:(.*)/s);
  assert.equal(user, 'kiln-agent');
  assert.match(hash, /^\$2[aby]\$05\$/);
  assert.ok(bcrypt.compareSync('pw1', hash));
  assert.ok(!bcrypt.compareSync('pw2', hash));
});

test('registry auth - what skopeo 1.9 prints when docker-registry 2.8 refuses credentials is a usage error (measured)', () => {
  const refused = [
    'time="2026-11-30T10:32:22Z" level=fatal msg="trying to reuse blob sha256:8ed9 at destination: checking whether a blob sha256:8ed9 exists in 127.0.0.1:47811/x/bb: unauthorized: authentication required"',
    'time="2026-11-30T10:32:22Z" level=fatal msg="Error listing repository tags: unable to retrieve auth token: invalid username/password: unauthorized: authentication required"',
    'time="2026-11-30T10:32:23Z" level=fatal msg="Failed to delete 127.0.0.1:47811/x/bb:1: {\\"errors\\":[{\\"code\\":\\"UNAUTHORIZED\\",\\"message\\":\\"authentication required\\",\\"detail\\":[{\\"Type\\":\\"repository\\",\\"Class\\":\\"\\",\\"Name\\":\\"x/bb\\",\\"Action\\":\\"pull\\"}]}]}\\n (401 Unauthorized)"',
  ];
  for (const stderr of refused) {
    const e = skopeoError(['copy'], stderr, 1);
    assert.ok(e instanceof RegistryError && e.kind === 'usage', `${e.kind}: ${stderr}`);
  }
});

