// kiln keys generate / show with real files, checked by gpg.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import type { CommandContext, ParsedArgs } from '../../reconciler/cli/command.ts';
import generate from '../../reconciler/cli/commands/keys-generate.ts';
import show, { type KeyInfo } from '../../reconciler/cli/commands/keys-show.ts';
import { readEnv } from '../../reconciler/cli/env.ts';
import { loadSigner } from '../../reconciler/signing/signer.ts';
import { makeGpgHome } from '../helpers/gpg.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let dir: string;
const ctx: CommandContext = {
  log: pino({ level: 'silent' }),
  env: readEnv({}, false),
  json: false,
  out: process.stdout,
  signal: new AbortController().signal,
};
const args = (values: ParsedArgs['values'], positionals: string[] = []): ParsedArgs => ({ values, positionals });

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'kiln-keys-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('keys - generate writes a v4 pair (private 0600), show reads it, and its signatures verify with gpg', async (t) => {
  const out = join(dir, 'a');
  const passFile = join(dir, 'pass');
  await writeFile(passFile, 'correct horse\n');
  const gen = await generate.run(args({ name: 'Kiln Reconciler', email: 'kiln@example.org', out, 'passphrase-file': passFile, 'expires-days': '30' }), ctx);
  const data = gen.data as { fingerprint: string; publicKeyFile: string; privateKeyFile: string };
  assert.equal(data.publicKeyFile, join(out, 'kiln-reconciler.pub.asc'));
  assert.equal(data.privateKeyFile, join(out, 'kiln-reconciler.key.asc'));
  assert.equal((await stat(data.privateKeyFile)).mode & 0o777, 0o600);
  assert.match(gen.human!, new RegExp(data.fingerprint));

  const pub = (await show.run(args({}, [data.publicKeyFile]), ctx)).data as KeyInfo;
  assert.equal(pub.kind, 'public');
  assert.equal(pub.version, 4);
  assert.equal(pub.fingerprint, data.fingerprint);
  assert.deepEqual(pub.userIds, ['Kiln Reconciler <kiln@example.org>']);
  assert.match(pub.algorithm, /^eddsa/);
  const days = (Date.parse(pub.expires!) - Date.parse(pub.created)) / 86400_000;
  assert.equal(Math.round(days), 30);
  const priv = (await show.run(args({}, [data.privateKeyFile]), ctx)).data as KeyInfo;
  assert.equal(priv.kind, 'private');
  assert.equal(priv.protected, true);

  // gpg reads the same key (v4) and accepts a signature made with it.
  const gpg = await makeGpgHome(await readFile(data.publicKeyFile, 'utf8'));
  t.after(() => gpg.dispose());
  const listed = await gpg.run('gpg', ['--batch', '--with-colons', '--list-keys']);
  assert.match(listed.stdout, new RegExp(`^fpr:+${data.fingerprint}:`, 'm'));
  await assert.rejects(loadSigner(await readFile(data.privateKeyFile, 'utf8')), { code: 'KILN_SIGNING' });
  const signer = await loadSigner(await readFile(data.privateKeyFile, 'utf8'), 'correct horse');
  const sig = await signer.signDetached('release file\n');
  const ok = await gpg.verifyDetached(sig, 'release file\n');
  assert.ok(ok.ok, ok.stderr);
  assert.match(ok.stderr, /Good signature from "Kiln Reconciler <kiln@example.org>"/);
  assert.equal((await gpg.verifyDetached(sig, 'tampered\n')).ok, false);
});

test('keys - generate refuses to overwrite a key and leaves the files as they were', async () => {
  const out = join(dir, 'b');
  await generate.run(args({ name: 'Twice', email: 'twice@example.org', out }), ctx);
  const before = await readFile(join(out, 'twice.key.asc'), 'utf8');
  await assert.rejects(generate.run(args({ name: 'Twice', email: 'twice@example.org', out }), ctx), (e: Error & { code?: string }) => {
    return e.code === 'KILN_USAGE' && e.message.includes('twice.key.asc already exists');
  });
  assert.equal(await readFile(join(out, 'twice.key.asc'), 'utf8'), before);
  // Through the real CLI: exit code 2 and the reason on stderr.
  const res = await new Promise<{ code: number; stderr: string }>((resolve) =>
    execFile(process.execPath, [join(ROOT, 'bin/kiln.js'), 'keys', 'generate', '--name', 'Twice', '--email', 'twice@example.org', '--out', out], { cwd: ROOT }, (err, _o, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, stderr }),
    ),
  );
  assert.equal(res.code, 2);
  assert.match(res.stderr, /refusing to overwrite/);
});

test('keys - bad input is refused with the file or flag named', async () => {
  await assert.rejects(generate.run(args({ name: 'X', out: join(dir, 'c') }), ctx), { code: 'KILN_USAGE' });
  await assert.rejects(generate.run(args({ name: 'X', email: 'not-an-email', out: join(dir, 'c') }), ctx), /--email/);
  await assert.rejects(generate.run(args({ name: 'X', email: 'x@y.z', out: join(dir, 'c'), 'expires-days': '-1' }), ctx), /--expires-days/);
  const junk = join(dir, 'junk.asc');
  await writeFile(junk, 'not a key\n');
  await assert.rejects(show.run(args({}, [junk]), ctx), (e: Error & { code?: string }) => e.code === 'KILN_USAGE' && e.message.startsWith(junk));
  await assert.rejects(show.run(args({}, [join(dir, 'missing.asc')]), ctx), { code: 'KILN_NOT_FOUND' });
});
