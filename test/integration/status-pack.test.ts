// Packs written by the status writer are real git packs: git verify-pack and
// fsck accept them, git and isomorphic-git read every object, and a large
// status commit goes through them.
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { readBlobText } from '../../reconciler/git/tree.ts';
import { packObjectHeader, writePack } from '../../reconciler/status/pack-writer.ts';
import { PACK_THRESHOLD } from '../../reconciler/status/git-objects.ts';
import { recordPass } from '../../reconciler/status/writer.ts';
import { generateKey, loadSigner } from '../../reconciler/signing/signer.ts';
import { git, makeRepo } from '../helpers/git.ts';

test('status pack - object headers encode type and size as git does', () => {
  assert.deepEqual([...packObjectHeader('blob', 10)], [0x3a]);
  assert.deepEqual([...packObjectHeader('blob', 100)], [0xb4, 0x06]);
  assert.deepEqual([...packObjectHeader('tree', 0)], [0x20]);
});

test('status pack - git verify-pack, fsck and cat-file accept a written pack; isomorphic-git reads it', async () => {
  const { dir } = await makeRepo({ 'README': 'x\n' });
  const contents = Array.from({ length: 300 }, (_, i) => Buffer.from(`record ${i}\n${'x'.repeat(i)}\n`));
  contents.push(Buffer.alloc(0), Buffer.alloc(70_000, 'y'));
  const oids = await writePack(join(dir, '.git'), contents.map((content) => ({ type: 'blob' as const, content })));
  const packs = (await readdir(join(dir, '.git/objects/pack'))).filter((f) => f.endsWith('.idx'));
  assert.equal(packs.length, 1);
  await git(dir, 'verify-pack', join(dir, '.git/objects/pack', packs[0]));
  assert.equal(await git(dir, 'cat-file', '-p', oids[7]), contents[7].toString().trimEnd());
  assert.equal(await readBlobText(dir, oids[250], {}), contents[250].toString());
  assert.equal((await readBlobText(dir, oids[301], {})).length, 70_000);
});

test('status pack - a status commit of many records is written through one pack and reads back', async () => {
  const { dir } = await makeRepo({ 'README': 'x\n' });
  const signer = await loadSigner((await generateKey({ name: 'r', email: 'r@kiln.invalid' })).privateKeyArmored);
  const n = PACK_THRESHOLD + 44;
  const key = (i: number) => i.toString(16).padStart(64, '0');
  const record = (i: number) =>
    `attempts:\n  - dispatchedAt: "2026-11-21T00:00:00Z"\n    n: 1\ndesiredCommit: ${'d'.repeat(40)}\ninputs:\n  arch: amd64\n  image: img\n  package: p${i}\n  recipe:\n    format: deb\n    rebuild: 0\n  source:\n    commit: ${'c'.repeat(40)}\n    url: /src\n  target: deb\n  version: "1.0"\nkey: "${key(i)}"\npool: deb\nstate: queued\n`;
  const { commit } = await recordPass({
    dir,
    cache: {},
    signer,
    build: () => ({ files: new Map(Array.from({ length: n }, (_, i) => [`builds/${key(i)}.yaml`, record(i)])), summary: 'many', trailers: { 'Kiln-Desired': 'd'.repeat(40) } }),
  });
  assert.ok(commit);
  assert.equal((await readdir(join(dir, '.git/objects/pack'))).filter((f) => f.endsWith('.pack')).length, 1);
  await git(dir, 'fsck', '--strict', '--no-dangling');
  assert.equal((await git(dir, 'ls-tree', '-r', '--name-only', 'kiln/status')).split('\n').length, n);
  assert.equal(await git(dir, 'show', `kiln/status:builds/${key(5)}.yaml`), record(5).trimEnd());
});
