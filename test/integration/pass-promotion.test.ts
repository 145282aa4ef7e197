// Promotion through real passes, with a real nats-server, Docker and apt: a
// version reaches `stable` only after `testing` published it and its
// install-smoke gate passed in a network-less container; a failing smoke
// command blocks it, with the reason recorded on kiln/status. The agent is
// stood in for by the test (it publishes the results an agent would), since
// agents have their own real-Docker tests.
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import Docker from 'dockerode';
import { pino } from 'pino';
import type { BuildAction } from '../../reconciler/model.ts';
import { reconcilePass, type PassMemo, type PassReport } from '../../reconciler/pass.ts';
import { DEFAULT_POLICY, type PassDeps } from '../../reconciler/pass/deps.ts';
import { openNatsSession, type NatsSession } from '../../reconciler/pipeline/nats-session.ts';
import { generateKey, loadSigner } from '../../reconciler/signing/signer.ts';
import { readObserved } from '../../reconciler/status/reader.ts';
import type { BuildResult } from '../../schema/messages.ts';
import { OBJECTS, SUBJECTS } from '../../schema/nats.ts';
import { aptInContainer } from '../helpers/apt-container.ts';
import { BASE_IMAGE, dockerUnavailable } from '../helpers/docker.ts';
import { makeRepo } from '../helpers/git.ts';
import { startNats, type NatsServer } from '../helpers/nats.ts';
import { writeDeb } from '../helpers/deb.ts';

const log = pino({ level: 'silent' });
let nats: NatsServer;
let session: NatsSession;
const skip = await dockerUnavailable(BASE_IMAGE);

before(async () => {
  if (skip) return;
  nats = await startNats();
  session = await openNatsSession(nats.url, { name: 'pass-promotion-test', log, pools: { deb: { architectures: ['amd64'] } } });
});
after(async () => {
  await session?.close();
  await nats?.dispose();
});

/** A source pinned by commit id: the id is checked when the metadata is read, so it must exist. */
let source: { dir: string; commit: string };
const pkg = (name: string, smoke: string) =>
  `name: ${name}\nversion: 1.0-1\nsource:\n  git: ${source.dir}\n  ref: '${source.commit}'\nformat: deb\narchitectures: [amd64]\nrelease: [testing, stable]\nsmoke: ${smoke}\n`;
const dist = (name: string, extra = '') => `name: ${name}\nformat: apt\nsuite: ${name}\narchitectures: [amd64]\n${extra}`;

/** What an agent would do for a build action: artifacts into the object store, then the result. */
async function completeBuild(a: BuildAction, workDir: string): Promise<void> {
  const deb = await writeDeb(workDir, { name: a.package, version: a.version, arch: 'amd64', script: `echo "${a.package} works"` });
  await session.objectStore.putBlob({ name: OBJECTS.artifact(deb.sha256) }, new Uint8Array(await readFile(deb.path)));
  const now = new Date().toISOString();
  const result: BuildResult = {
    v: 1,
    key: a.key,
    attempt: a.attempt,
    inputs: a.inputs,
    pool: a.pool,
    agent: 'test-agent',
    outcome: 'succeeded',
    exitCode: 0,
    artifacts: [{ name: deb.name, sha256: deb.sha256, size: deb.size }],
    startedAt: now,
    finishedAt: now,
  };
  await session.js.publish(SUBJECTS.result(a.key), JSON.stringify(result), { msgID: `${a.key}.${a.attempt}.result` });
}

test('pass promotion - stable takes a version only after testing published it and its gate passed; a failing smoke blocks it', { skip }, async () => {
  source = await makeRepo({ README: 'source\n' });
  const { dir } = await makeRepo({
    'kiln.yaml': 'trust:\n  requireSignedCommits: false\npools:\n  deb:\n    architectures: [amd64]\n',
    'packages/good-tool.yaml': pkg('good-tool', 'good-tool'),
    'packages/bad-tool.yaml': pkg('bad-tool', 'bad-tool --version && exit 3'),
    'distributions/testing.yaml': dist('testing'),
    'distributions/stable.yaml': dist('stable', 'promoteFrom: testing\ngate: install-smoke\n'),
  });
  const work = await mkdtemp(join(tmpdir(), 'kiln-promotion-'));
  const signer = await loadSigner((await generateKey({ name: 'release', email: 'release@kiln.invalid' })).privateKeyArmored);
  const deps: PassDeps = {
    repoDir: dir,
    rev: 'HEAD',
    cache: {},
    signer,
    log,
    now: () => new Date(),
    random: () => 0.5,
    policy: { ...DEFAULT_POLICY, resultWaitMs: 1000 },
    nats: session,
    reposDir: join(work, 'repos'),
    artifactsDir: join(work, 'artifacts'),
    docker: new Docker(),
    gateImage: BASE_IMAGE,
  };
  const memo: PassMemo = {};
  const kinds = (r: PassReport) => (r.plan?.actions ?? []).map((a) => `${a.kind} ${'distribution' in a ? a.distribution + '/' : ''}${'package' in a ? a.package : ''}`).sort();

  const p1 = await reconcilePass(deps, memo);
  assert.deepEqual(kinds(p1), ['build bad-tool', 'build good-tool']);
  for (const a of p1.plan!.actions) await completeBuild(a as BuildAction, work);

  const p2 = await reconcilePass(deps, memo);
  assert.equal(p2.results, 2);
  assert.deepEqual(kinds(p2), ['publish testing/bad-tool', 'publish testing/good-tool'], 'stable waits: nothing promoted yet');
  assert.ok(p2.plan!.waiting.some((w) => w.subject.startsWith('release stable') && w.reason === 'AwaitingSourceDistribution'));

  const p3 = await reconcilePass(deps, memo);
  assert.deepEqual(kinds(p3), ['gate stable/bad-tool', 'gate stable/good-tool']);
  assert.equal(p3.gates, 2);

  const p4 = await reconcilePass(deps, memo);
  assert.deepEqual(kinds(p4), ['publish stable/good-tool'], 'only the version whose gate passed is promoted');
  const blocked = p4.plan!.waiting.find((w) => w.subject.includes('bad-tool') && w.reason === 'GateFailed');
  assert.ok(blocked, 'the failed gate blocks bad-tool, and plan says why');

  const p5 = await reconcilePass(deps, memo);
  assert.deepEqual(p5.plan?.actions ?? [], [], 'converged: a further pass plans nothing');

  const { state } = await readObserved({ dir, cache: {} });
  assert.deepEqual(state.releases.get('stable')?.packages.map((p) => p.name), ['good-tool']);
  assert.deepEqual(state.releases.get('testing')?.packages.map((p) => p.name).sort(), ['bad-tool', 'good-tool']);
  const badGate = state.gates.get('stable/bad-tool/1.0-1');
  assert.equal(badGate?.verdict, 'failed');
  assert.match(badGate?.reason ?? '', /smoke/i);
  assert.equal(state.gates.get('stable/good-tool/1.0-1')?.verdict, 'passed');

  // And a real apt client installs the promoted package from the signed stable repository.
  const apt = await aptInContainer({
    repoDir: join(work, 'repos', 'stable'),
    keyPath: join(work, 'repos', 'stable', 'stable-archive-keyring.asc'),
    suite: 'stable',
    install: ['good-tool'],
    commands: ['good-tool'],
  });
  assert.equal(apt.exitCode, 0, apt.output);
  assert.match(apt.output, /good-tool works/);
});
