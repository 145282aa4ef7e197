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
import { dockerSpecChecker } from '../../reconciler/desired/spec-check.ts';
import { rpmSpec } from '../fixtures/rpm-source.ts';
import { dockerUnavailable } from '../helpers/docker.ts';
import { commitFiles, makeRepo } from '../helpers/git.ts';

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
    assert.match(ev.diagnostics[0].message, /not checked before dispatch \(image 'kiln\/no-such-rpm-image' is not available/);
  });
});
