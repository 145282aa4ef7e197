// rpm packages held against their specs before dispatch, with real Docker:
// rpmspec in kiln/bookworm-rpm evaluates the spec at the pinned commit; a name or
// version that differs, or a spec rpm cannot parse, is an error at the package
// file's line naming the spec's path; the same spec blob in the same image is
// asked once (no container on the next read).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Docker from 'dockerode';
import { evaluateDesired } from '../../reconciler/desired/read-desired.ts';
import { dockerSpecChecker, specCheckerFor, uncheckedWhenUnreachable } from '../../reconciler/desired/spec-check.ts';
import { kilnCheck } from '../../reconciler/forge/check-verdict.ts';
import { rpmSpec } from '../fixtures/rpm-source.ts';
import { dockerUnavailable } from '../helpers/docker.ts';
import { runKiln } from '../helpers/cli.ts';
import { commitFiles, git, makeRepo } from '../helpers/git.ts';

const RPM_IMAGE = 'kiln/bookworm-rpm';
const KILN_YAML = 'trust:\n  keys: []\n  requireSignedCommits: false\npools:\n  rpm:\n    architectures: [amd64]\ndefaults:\n  pool: rpm\n';
const pkg = (src: string, version: string, extra = '') =>
  `name: kiln-hello-rpm\nformat: rpm\nversion: ${version}\nsource: { git: ${src}, ref: main, subdir: pkg }\nspec: rpm/hello.spec\narchitectures: [amd64]\n${extra}`;

describe('rpm spec check', { skip: await dockerUnavailable(RPM_IMAGE) }, () => {
  let dir = '';
  let src = '';
  let meta = '';
  // A Docker client that counts the containers the checker starts.
  const docker = new Docker();
  let started = 0;
  const create = docker.createContainer.bind(docker);
  docker.createContainer = ((opts: Docker.ContainerCreateOptions) => {
    started++;
    return create(opts);
  }) as typeof docker.createContainer;
  const checkSpec = dockerSpecChecker(docker);
  const evaluate = () => evaluateDesired({ dir: meta, rev: 'HEAD', cache: {}, checkSpec });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-spec-check-'));
    await Promise.all([mkdir(join(dir, 'src')), mkdir(join(dir, 'meta'))]);
    src = (await makeRepo({ 'pkg/rpm/hello.spec': rpmSpec({ version: '1.0', release: '2' }) }, { dir: join(dir, 'src') })).dir;
    meta = (await makeRepo({ 'kiln.yaml': KILN_YAML, 'packages/kiln-hello-rpm.yaml': pkg(src, '1.0-2') }, { dir: join(dir, 'meta') })).dir;
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('rpm spec check - metadata that matches the spec is valid; the same spec is not queried again', async () => {
    const ev = await evaluate();
    assert.deepEqual(ev.diagnostics, []);
    assert.equal(ev.state?.packages.get('kiln-hello-rpm')?.version, '1.0-2');
    assert.equal(started, 1, 'one rpmspec container');
    // Another metadata commit naming the same spec blob: answered from the cache.
    await commitFiles(meta, { 'packages/kiln-hello-rpm.yaml': pkg(src, '1.0-2', 'rebuild: 1\n') });
    assert.deepEqual((await evaluate()).diagnostics, []);
    assert.equal(started, 1, 'no container for a spec blob already asked');
  });

  test('rpm spec check - a version or release that differs from the spec is refused at the metadata line, naming the spec', async () => {
    await commitFiles(meta, { 'packages/kiln-hello-rpm.yaml': pkg(src, '1.0-1') });
    const ev = await evaluate();
    assert.equal(ev.state, undefined, 'refused: no desired state, nothing to dispatch');
    assert.deepEqual(
      ev.diagnostics.map((d) => [d.file, d.line, d.path, d.severity, d.message]),
      [['packages/kiln-hello-rpm.yaml', 3, '/version', 'error', `version: 1.0-1 differs from pkg/rpm/hello.spec, which declares 1.0-2 (Version: 1.0, Release: 2; rpmspec in ${RPM_IMAGE})`]],
    );
    // An epoch in the spec is part of the version.
    await commitFiles(src, { 'pkg/rpm/hello.spec': rpmSpec({ version: '1.0', release: '2', extra: ['Epoch: 3'] }) });
    await commitFiles(meta, { 'packages/kiln-hello-rpm.yaml': pkg(src, '1.0-2', 'rebuild: 2\n') });
    const epoch = await evaluate();
    assert.match(epoch.diagnostics[0]?.message ?? '', /^version: 1\.0-2 differs from pkg\/rpm\/hello\.spec, which declares 3:1\.0-2 \(Epoch: 3, Version: 1\.0, Release: 2;/);
    await commitFiles(meta, { 'packages/kiln-hello-rpm.yaml': pkg(src, '3:1.0-2', 'rebuild: 3\n') });
    assert.deepEqual((await evaluate()).diagnostics, []);
  });

  test('rpm spec check - a spec rpm cannot parse: rpm\'s message with the spec path; a missing spec is named', async () => {
    await commitFiles(src, { 'pkg/rpm/hello.spec': rpmSpec({ extra: ['Bogus-Tag: nonsense'] }) });
    await commitFiles(meta, { 'packages/kiln-hello-rpm.yaml': pkg(src, '1.0-1', 'rebuild: 4\n') });
    const ev = await evaluate();
    assert.equal(ev.state, undefined);
    const [d] = ev.diagnostics;
    assert.deepEqual([d.file, d.line, d.path], ['packages/kiln-hello-rpm.yaml', 5, '/spec']);
    assert.match(d.message, /^spec: rpm\/hello\.spec: rpmspec cannot parse the spec \(exit 1\):\n.*Bogus-Tag/s);
    assert.doesNotMatch(d.message, /\/src\//, 'the container path is not shown');

    await commitFiles(meta, { 'packages/kiln-hello-rpm.yaml': pkg(src, '1.0-1', 'rebuild: 4\n').replace('rpm/hello.spec', 'rpm/other.spec') });
    const missing = await evaluate();
    assert.match(missing.diagnostics[0]?.message ?? '', /^spec: there is no pkg\/rpm\/other\.spec in .* at [0-9a-f]{12}$/);
  });

  test('rpm spec check - an image the reconciler does not have leaves a warning (the agent checks), not a refusal', async () => {
    await commitFiles(meta, { 'packages/kiln-hello-rpm.yaml': pkg(src, '1.0-1', 'image: kiln/no-such-rpm-image\n') });
    const ev = await evaluate();
    assert.ok(ev.state);
    assert.deepEqual(ev.diagnostics.map((d) => [d.severity, d.path]), [['warning', '/spec']]);
    assert.match(ev.diagnostics[0].message, /^spec: name and version not checked against pkg\/rpm\/hello\.spec \(image 'kiln\/no-such-rpm-image' is not on this host\); the agent checks them before building$/);
  });
});

// The same check as a release engineer or CI runs it: `kiln validate` and `kiln check` in a child process.
describe('rpm spec check in kiln validate and kiln check', { skip: await dockerUnavailable(RPM_IMAGE) }, () => {
  let dir = '';
  let meta = '';
  const BAD_VERSION = /^packages\/kiln-hello-rpm\.yaml:3:10: version: 1\.0-3 differs from pkg\/rpm\/hello\.spec, which declares 1\.0-2 \(Version: 1\.0, Release: 2; rpmspec in kiln\/bookworm-rpm\)$/m;

  /** A branch of the metadata repo off main with `files` committed. */
  const branch = async (name: string, files: Record<string, string>) => {
    await git(meta, 'checkout', '-q', '-b', name, 'main');
    await commitFiles(meta, files, name);
    await git(meta, 'checkout', '-q', 'main');
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-spec-cli-'));
    await Promise.all([mkdir(join(dir, 'src')), mkdir(join(dir, 'meta'))]);
    const src = (await makeRepo({ 'pkg/rpm/hello.spec': rpmSpec({ version: '1.0', release: '2' }) }, { dir: join(dir, 'src') })).dir;
    // A source branch whose spec rpm cannot parse.
    await git(src, 'checkout', '-q', '-b', 'broken');
    await commitFiles(src, { 'pkg/rpm/hello.spec': rpmSpec({ version: '1.0', release: '2', extra: ['Bogus-Tag: nonsense'] }) });
    await git(src, 'checkout', '-q', 'main');
    meta = (await makeRepo({ 'kiln.yaml': KILN_YAML, 'packages/kiln-hello-rpm.yaml': pkg(src, '1.0-2') }, { dir: join(dir, 'meta') })).dir;
    await branch('bump', { 'packages/kiln-hello-rpm.yaml': pkg(src, '1.0-3') });
    await branch('broken', { 'packages/kiln-hello-rpm.yaml': pkg(src, '1.0-2').replace('ref: main', 'ref: broken') });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test('rpm spec check - kiln validate: a version the spec does not declare is an error at the metadata line naming the spec (exit 1); a match passes (exit 0)', async () => {
    const ok = await runKiln(['validate', '--repo', meta]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /^ok: 1 package, 0 distributions at [0-9a-f]{12}$/m);
    assert.doesNotMatch(ok.stdout, /warning/);

    const bad = await runKiln(['validate', '--repo', meta, '--rev', 'bump']);
    assert.equal(bad.code, 1, bad.stdout + bad.stderr);
    assert.match(bad.stdout, BAD_VERSION);
    assert.match(bad.stdout, /^1 problem at [0-9a-f]{12}$/m);

    const json = JSON.parse((await runKiln(['validate', '--repo', meta, '--rev', 'bump', '--json'])).stdout) as { ok: boolean; diagnostics: Array<{ file: string; line: number; path: string; severity: string }> };
    assert.equal(json.ok, false);
    assert.deepEqual(json.diagnostics.map((d) => [d.file, d.line, d.path, d.severity]), [['packages/kiln-hello-rpm.yaml', 3, '/version', 'error']]);
  });

  test('rpm spec check - kiln validate: a spec rpm cannot parse shows rpm\'s message with the spec path (exit 1)', async () => {
    const r = await runKiln(['validate', '--repo', meta, '--rev', 'broken']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^packages\/kiln-hello-rpm\.yaml:5:7: spec: rpm\/hello\.spec: rpmspec cannot parse the spec \(exit 1\):$/m);
    assert.match(r.stdout, /Bogus-Tag/);
  });

  test('rpm spec check - kiln check: the pull request that bumps the version past the spec fails with the same error', async () => {
    const r = await runKiln(['check', '--repo', meta, '--rev', 'bump', '--base', 'main']);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout.replace(/^ {2}/gm, ''), BAD_VERSION);
    const ok = await runKiln(['check', '--repo', meta, '--rev', 'main', '--base', 'main']);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  });

  test('rpm spec check - the reconciler\'s kiln/check of a pull request (forge status) fails it on the spec too', async () => {
    const check = kilnCheck(meta, undefined, undefined, uncheckedWhenUnreachable(specCheckerFor(new Docker())));
    const bad = await check(await git(meta, 'rev-parse', 'bump'));
    assert.equal(bad.ok, false);
    assert.match(bad.summary, /^invalid: 1 problem/);
    assert.equal((await check(await git(meta, 'rev-parse', 'main'))).ok, true);
  });

  test('rpm spec check - without a Docker engine kiln validate warns that the spec was not checked and why; the verdict stands (exit 0)', async () => {
    const r = await runKiln(['validate', '--repo', meta, '--rev', 'bump'], { DOCKER_HOST: `unix://${join(dir, 'no-docker.sock')}` });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^packages\/kiln-hello-rpm\.yaml:5:7: warning: spec: name and version not checked against pkg\/rpm\/hello\.spec \(no Docker engine answers: .*no-docker\.sock.*\); the agent checks them before building$/m);
    assert.match(r.stdout, /^ok: 1 package/m);
  });
});
