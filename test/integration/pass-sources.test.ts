// A source branch that moves is a new build: the pass resolves source refs
// again (every policy.sourceRefreshMs) even when the metadata repo did not change.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import type { BuildAction } from '../../reconciler/model.ts';
import { reconcilePass, type PassMemo } from '../../reconciler/pass.ts';
import { DEFAULT_POLICY, type PassDeps } from '../../reconciler/pass/deps.ts';
import { generateKey, loadSigner } from '../../reconciler/signing/signer.ts';
import { commitFiles, makeRepo } from '../helpers/git.ts';

test('pass sources - a moved source branch plans a build of the new commit on the next refresh', async () => {
  const source = await makeRepo({ 'debian/changelog': 'one\n' });
  const meta = await makeRepo({
    'kiln.yaml': 'trust:\n  requireSignedCommits: false\npools:\n  deb:\n    architectures: [amd64]\n',
    'packages/hello.yaml': `name: hello\nversion: 1.0-1\nsource:\n  git: ${source.dir}\n  ref: main\nformat: deb\narchitectures: [amd64]\n`,
  });
  const signer = await loadSigner((await generateKey({ name: 'r', email: 'r@kiln.invalid' })).privateKeyArmored);
  let now = Date.parse('2026-11-21T12:00:00Z');
  const deps: PassDeps = {
    repoDir: meta.dir,
    rev: 'HEAD',
    cache: {},
    signer,
    log: pino({ level: 'silent' }),
    now: () => new Date(now),
    random: () => 0.5,
    policy: { ...DEFAULT_POLICY, sourceRefreshMs: 60_000 },
    artifactsDir: await mkdtemp(join(tmpdir(), 'kiln-art-')),
    gateImage: 'kiln/bookworm-buildd',
  };
  const memo: PassMemo = {};
  const build = (r: Awaited<ReturnType<typeof reconcilePass>>) => r.plan?.actions.find((a): a is BuildAction => a.kind === 'build');

  const first = build(await reconcilePass(deps, memo));
  assert.equal(first?.inputs.source.commit, source.commit);

  const moved = await commitFiles(source.dir, { 'debian/changelog': 'two\n' });
  now += 1_000;
  const soon = build(await reconcilePass(deps, memo));
  assert.equal(soon?.inputs.source.commit, source.commit, 'within the refresh period the pinned commit is kept');

  now += 60_000;
  const later = build(await reconcilePass(deps, memo));
  assert.equal(later?.inputs.source.commit, moved);
  assert.notEqual(later?.key, first?.key);
});
