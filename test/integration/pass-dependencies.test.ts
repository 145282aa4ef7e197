// Package sets through a real pass: debian/control read from real source repos,
// the in-repo dependency graph, and waits instead of dispatches.
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pino } from 'pino';
import { reconcilePass, type PassMemo } from '../../reconciler/pass.ts';
import { DEFAULT_POLICY, type PassDeps } from '../../reconciler/pass/deps.ts';
import { generateKey, loadSigner } from '../../reconciler/signing/signer.ts';
import { makeRepo } from '../helpers/git.ts';

const control = (name: string, binary: string, deps = '') => `Source: ${name}\nBuild-Depends: debhelper-compat (= 13)${deps ? `, ${deps}` : ''}\n\nPackage: ${binary}\nArchitecture: any\n`;
const pkgYaml = (name: string, dir: string) => `name: ${name}\nversion: 1.1-1\nsource:\n  git: ${dir}\n  ref: main\nformat: deb\narchitectures: [amd64]\nrelease: [testing]\n`;

test('pass dependencies - a library builds first, its dependent and a cycle wait with their reasons, nothing of theirs dispatched', async () => {
  const sources = {
    libkilnhello: await makeRepo({ 'debian/control': control('libkilnhello', 'libkilnhello-dev') }),
    kilnhello: await makeRepo({ 'debian/control': control('kilnhello', 'kilnhello', 'libkilnhello-dev (>= 1.1)') }),
    ca: await makeRepo({ 'debian/control': control('ca', 'libca-dev', 'libcb-dev') }),
    cb: await makeRepo({ 'debian/control': control('cb', 'libcb-dev', 'libca-dev') }),
  };
  const files: Record<string, string> = {
    'kiln.yaml': 'trust:\n  requireSignedCommits: false\npools:\n  deb:\n    architectures: [amd64]\ndefaults:\n  buildFrom: testing\n',
    'distributions/testing.yaml': 'name: testing\nformat: apt\nsuite: testing\narchitectures: [amd64]\n',
  };
  for (const [name, repo] of Object.entries(sources)) files[`packages/${name}.yaml`] = pkgYaml(name, repo.dir);
  const meta = await makeRepo(files);
  const signer = await loadSigner((await generateKey({ name: 'r', email: 'r@kiln.invalid' })).privateKeyArmored);
  const deps: PassDeps = {
    repoDir: meta.dir,
    rev: 'HEAD',
    cache: {},
    signer,
    log: pino({ level: 'silent' }),
    now: () => new Date('2026-11-21T12:00:00Z'),
    random: () => 0.5,
    policy: DEFAULT_POLICY,
    artifactsDir: await mkdtemp(join(tmpdir(), 'kiln-art-')),
    gateImage: 'kiln/bookworm-buildd',
  };
  const memo: PassMemo = {};
  const result = await reconcilePass(deps, memo);
  const plan = result.plan!;
  assert.deepEqual(plan.actions.filter((a) => a.kind === 'build').map((a) => (a.kind === 'build' ? a.package : '')), ['libkilnhello']);
  const reason = (pkg: string) => plan.waiting.find((w) => w.subject.startsWith(`build ${pkg}/`));
  assert.equal(reason('kilnhello')?.reason, 'AwaitingDependency');
  assert.match(reason('kilnhello')!.message, /libkilnhello-dev \(>= 1\.1\): libkilnhello is not published in testing yet/);
  for (const n of ['ca', 'cb']) {
    assert.equal(reason(n)?.reason, 'DependencyCycle');
    assert.match(reason(n)!.message, /packages\/ca\.yaml, packages\/cb\.yaml/);
  }
  const again = await reconcilePass(deps, memo);
  assert.deepEqual(again.plan!.actions.filter((a) => a.kind === 'build' && a.package !== 'libkilnhello'), [], 'a second pass dispatches none of the waiting packages');
});
