// BuildRequires beyond the build image, with real Docker and real dnf: an image
// derived from kiln/bookworm-rpm configures a dnf repository the test serves on
// loopback (createrepo_c of an rpm the host's rpmbuild made); the rpm runner's
// dependency phase resolves the spec's BuildRequires there with the network,
// installs exactly what it resolved into a cached image, and rpmbuild runs
// offline in it (its %build runs the installed tool). The same resolution
// reuses the image; a BuildRequires no repository offers fails with dnf's reason.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, normalize } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { RpmRunner } from '../../agents/rpm-runner.ts';
import { makeJob, quietLog } from '../fixtures/agent-jobs.ts';
import { docker, dockerUnavailable } from '../helpers/docker.ts';
import { writeRpm } from '../helpers/rpm.ts';

const run = promisify(execFile);
const RPM_IMAGE = 'kiln/bookworm-rpm';

const spec = (requires: string) =>
  [
    'Name: kiln-needs-tool', 'Version: 1.0', 'Release: 1', 'Summary: needs a tool to build', 'License: MIT', 'BuildArch: noarch', 'AutoReq: no',
    `BuildRequires: ${requires}`, '', '%description', 'Built with a tool from a BuildRequires.', '',
    '%build', 'kiln-dep-tool > made-by-tool.txt', '',
    '%install', 'mkdir -p %{buildroot}/usr/share/kiln-needs-tool', 'cp made-by-tool.txt %{buildroot}/usr/share/kiln-needs-tool/', '',
    '%files', '/usr/share/kiln-needs-tool/made-by-tool.txt', '',
  ].join('\n');

/** A static file server for the repository (dnf reaches it from a host-network container). */
function serve(root: string): Promise<Server> {
  const server = createServer((req, res) => {
    const path = join(root, normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)).replace(/^(\.\.[/\\])+/, ''));
    stat(path).then(
      (s) => {
        if (!s.isFile()) throw new Error('not a file');
        res.writeHead(200, { 'content-length': s.size });
        createReadStream(path).pipe(res);
      },
      () => {
        res.writeHead(404).end();
      },
    );
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

describe('rpm BuildRequires', { skip: await dockerUnavailable(RPM_IMAGE) }, () => {
  let dir = '';
  let server: Server;
  let image = '';
  const made = new Set<string>();

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-rpm-deps-'));
    const repo = join(dir, 'repo');
    await mkdir(repo);
    await writeRpm(repo, { name: 'kiln-dep-tool', version: '1.2-1' });
    await run('createrepo_c', ['--quiet', repo]);
    server = await serve(repo);
    const port = (server.address() as AddressInfo).port;
    const ctx = join(dir, 'image');
    await mkdir(ctx);
    await writeFile(join(ctx, 'kiln-test.repo'), `[kiln-test]\nname=kiln test\nbaseurl=http://127.0.0.1:${port}/\ngpgcheck=0\n`);
    await writeFile(join(ctx, 'Dockerfile'), `FROM ${RPM_IMAGE}\nCOPY kiln-test.repo /etc/yum.repos.d/kiln-test.repo\n`);
    image = `kiln/test-rpm-with-repo:${port}`;
    await run('docker', ['build', '-q', '-t', image, ctx], { env: { ...process.env, DOCKER_BUILDKIT: '0' } });
  });
  after(async () => {
    server?.close();
    for (const tag of made) await docker.getImage(tag).remove({ force: true }).catch(() => undefined);
    if (image) await docker.getImage(image).remove({ force: true }).catch(() => undefined);
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function build(requires: string) {
    const work = await mkdtemp(join(dir, 'work-'));
    const src = join(work, 'src');
    await mkdir(join(src, 'rpm'), { recursive: true });
    await writeFile(join(src, 'rpm', 'needs.spec'), spec(requires));
    const base = makeJob({ url: src, commit: '0'.repeat(40), package: 'kiln-needs-tool', version: '1.0-1', image });
    const job = { ...base, inputs: { ...base.inputs, recipe: { format: 'rpm', rebuild: 0, spec: 'rpm/needs.spec' }, arch: 'amd64' } };
    const chunks: Buffer[] = [];
    const out = await new RpmRunner({ log: quietLog }).run(job, { root: work, sourceDir: src, buildDir: src }, { onLog: (b) => chunks.push(b), signal: new AbortController().signal });
    const log = Buffer.concat(chunks).toString();
    for (const m of log.matchAll(/image (kiln-rpm-deps:[0-9a-f]{64})/g)) made.add(m[1]);
    return { out, log };
  }

  test('rpm BuildRequires - resolved with dnf from the image\'s repository, installed into a deps image, rpmbuild runs offline with it', async () => {
    const { out, log } = await build('kiln-dep-tool >= 1.0');
    assert.equal(out.exitCode, 0, log);
    assert.match(log, /resolving BuildRequires with dnf from the image's repositories: kiln-dep-tool >= 1\.0/);
    assert.match(log, /BuildRequires resolve to kiln-dep-tool-1\.2-1\.noarch/);
    assert.match(log, /BuildRequires installed into image kiln-rpm-deps:[0-9a-f]{64}/);
    assert.match(log, /rpmbuild -ba .* in kiln-rpm-deps:[0-9a-f]{64} \(.*no network\)/);
    const rpm = out.artifacts.find((a) => a.endsWith('.noarch.rpm'))!;
    const { stdout } = await run('sh', ['-c', `rpm2archive - < '${rpm}' | tar -xzO './usr/share/kiln-needs-tool/made-by-tool.txt'`]);
    assert.equal(stdout.trim(), 'hello from kiln-dep-tool', 'the tool from the BuildRequires ran during the offline build');
  });

  test('rpm BuildRequires - the same resolution reuses the deps image', async () => {
    const before = made.size;
    const { out, log } = await build('kiln-dep-tool');
    assert.equal(out.exitCode, 0, log);
    assert.match(log, /BuildRequires already installed in image kiln-rpm-deps:/);
    assert.doesNotMatch(log, /installed into image/);
    assert.equal(made.size, before, 'no new image');
  });

  test('rpm BuildRequires - one no repository offers fails the build with dnf\'s reason', async () => {
    const { out, log } = await build('kiln-no-such-tool >= 2');
    assert.equal(out.failure?.class, 'build', log);
    assert.match(out.failure!.reason, /^BuildRequires cannot be met \(kiln-no-such-tool >= 2\): .*kiln-no-such-tool/s);
    assert.deepEqual(out.artifacts, []);
  });
});
