// A step that fails part-way keeps what it already did (issue 7 §3, review
// finding 6): publishing is done distribution by distribution on the real file
// system, and each record is handed to the pass as soon as that distribution is
// on disk, so a later distribution's unexpected failure does not drop it.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { emptyObserved, type Plan } from '../../reconciler/model.ts';
import { publishReleases } from '../../reconciler/pass/publish-step.ts';
import { generateKey, loadSigner } from '../../reconciler/signing/signer.ts';
import type { ReleaseRecord } from '../../schema/status.ts';
import { aptDistribution } from '../helpers/distribution.ts';

test('publish step - a distribution that fails unexpectedly keeps the records of those published before it', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'kiln-partial-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const reposDir = join(dir, 'repos');
  await mkdir(reposDir);
  // 'broken' cannot get a repository directory: a plain file stands where it belongs (ENOTDIR, not a Kiln error).
  await writeFile(join(reposDir, 'broken'), 'not a directory');
  const signer = await loadSigner((await generateKey({ name: 'Kiln Partial', email: 'partial@kiln.invalid' })).privateKeyArmored);
  const action = (distribution: string) => ({ kind: 'publish' as const, reason: 'NotPublished' as const, message: 'm', distribution, package: 'hello', version: '1.0', builds: { amd64: 'a'.repeat(64) } });
  // 'gone' was removed from the desired state: its record is made without touching the disk.
  const plan: Plan = { desiredCommit: 'c'.repeat(40), actions: [action('gone'), action('broken')], waiting: [] };
  const records: ReleaseRecord[] = [];
  await assert.rejects(
    publishReleases(plan, new Map([['broken', aptDistribution('broken')]]), emptyObserved(), { reposDir, artifactsDir: join(dir, 'artifacts'), signer, now: new Date(), log: pino({ level: 'silent' }) }, records),
    /ENOTDIR|not a directory/,
  );
  assert.deepEqual(records.map((r) => r.distribution), ['gone'], 'the record of the distribution done before the failure is kept for the pass');
});
