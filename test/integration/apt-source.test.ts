// Source packages end to end with the real parts: the agent builds the example
// package in the real Docker Engine (fed by a real nats-server) and uploads the
// .dsc and its tarball with the .debs; the reconciler's result check accepts
// them; publishApt places them in the source's pool directory with a signed
// Sources index; the real apt in a clean container (network none, repository
// bind-mounted) runs `apt-get source` from a deb-src line, which verifies the
// files against the signed InRelease and unpacks the tree. The .xz indexes are
// proved to be read by apt from a copy of the repository that has only them.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { Objm } from '@nats-io/obj';
import { Agent } from '../../agents/agent.ts';
import { fetchArtifact } from '../../reconciler/pipeline/collect.ts';
import { publishableProblems } from '../../reconciler/pipeline/publishable.ts';
import { observeRepository } from '../../reconciler/publish/apt/observe.ts';
import { keyFileName, publishApt, publishedArtifacts, type PublishReport } from '../../reconciler/publish/index.ts';
import { generateKey, loadSigner, type Signer } from '../../reconciler/signing/signer.ts';
import type { BuildResult } from '../../schema/messages.ts';
import type { ReleaseRecord } from '../../schema/status.ts';
import { BUCKETS } from '../../schema/nats.ts';
import { PublishInputError } from '../../schema/errors.ts';
import { makeJob, publishJob, quietLog, startHarness, takeResults, type Harness } from '../fixtures/agent-jobs.ts';
import { exampleSource, makeDebRepo } from '../fixtures/deb-source.ts';
import { aptInContainer } from '../helpers/apt-container.ts';
import { dockerUnavailable } from '../helpers/docker.ts';
import { aptDistribution } from '../helpers/distribution.ts';

const run = promisify(execFile);
const skip = await dockerUnavailable();

describe('apt source packages (real Docker, nats-server, apt)', { skip }, () => {
  let h: Harness;
  let agent: Agent;
  let root: string;
  let result: BuildResult;
  let report: PublishReport;
  let signer: Signer;
  let published: Array<{ name: string; path: string; sha256: string; size: number }>;
  const dist = aptDistribution('stable', { suite: 'stable', codename: 'kiln-stable', architectures: ['amd64'] });
  const repoDir = () => join(root, 'stable');

  before(async () => {
    h = await startHarness();
    agent = new Agent({ nc: h.nc, pool: 'deb', arch: 'amd64', workDir: h.workDir, log: quietLog, id: 'source-agent', heartbeatMs: 1000 });
    await agent.start();
    root = await mkdtemp(join(tmpdir(), 'kiln-apt-source-'));
    await chmod(root, 0o755); // apt's _apt user reads the bind-mounted repository
  });
  after(async () => {
    await agent?.close();
    await h?.close();
    if (root) await rm(root, { recursive: true, force: true });
  });

  test('apt source - a real build uploads its source package, the result check accepts it, and it is published beside the .debs', async () => {
    const repo = await makeDebRepo(await exampleSource(), h.workDir);
    await publishJob(h.nc, makeJob({ url: repo.dir, commit: repo.commit, package: 'hello-kiln', version: '1.0.0' }));
    [result] = await takeResults(h.nc, 1);
    assert.equal(result.outcome, 'succeeded', result.logTail);
    const names = result.artifacts.map((a) => a.name).sort();
    assert.ok(names.includes('hello-kiln_1.0.0.dsc'), names.join(', '));
    assert.ok(names.includes('hello-kiln_1.0.0.tar.xz'), names.join(', '));

    const objectStore = await new Objm(h.nc).open(BUCKETS.artifacts);
    const cache = join(root, 'cache');
    const local = await Promise.all(result.artifacts.map(async (a) => ({ ...a, path: await fetchArtifact(objectStore, a.sha256, cache) })));
    assert.deepEqual(await publishableProblems(result, cache), [], 'the reconciler accepts the real source package');

    const { debs, source } = publishedArtifacts(local);
    assert.deepEqual(source.map((a) => a.name).sort(), ['hello-kiln_1.0.0.dsc', 'hello-kiln_1.0.0.tar.xz']);
    signer = await loadSigner((await generateKey({ name: 'Kiln Source Test', email: 'source@kiln.invalid' })).privateKeyArmored);
    published = [...debs, ...source];
    report = await publishApt({ root, distribution: dist, packages: [{ name: 'hello-kiln', version: '1.0.0', arch: 'amd64', files: published }], signer, now: new Date() });
    assert.equal(report.sources, 1);
    // Debian's archive layout: the source files in the pool directory of the source, with its binaries.
    const pool = await readdir(join(repoDir(), 'pool/main/h/hello-kiln'));
    assert.deepEqual(pool.sort(), ['hello-kiln_1.0.0.dsc', 'hello-kiln_1.0.0.tar.xz', 'hello-kiln_1.0.0_amd64.deb']);
    const release = await readFile(join(repoDir(), 'dists/stable/Release'), 'utf8');
    for (const idx of ['main/binary-amd64/Packages.xz', 'main/source/Sources', 'main/source/Sources.gz', 'main/source/Sources.xz']) assert.match(release, new RegExp(` ${idx}\\n`), `Release lists ${idx}`);
    const sources = await readFile(join(repoDir(), 'dists/stable/main/source/Sources'), 'utf8');
    assert.match(sources, /^Package: hello-kiln\n/);
    assert.match(sources, /\nDirectory: pool\/main\/h\/hello-kiln\n/);
    const bySources = await readdir(join(repoDir(), 'dists/stable/main/source/by-hash/SHA256'));
    assert.equal(bySources.length, 3, 'Sources, Sources.gz and Sources.xz by hash');

    // The same source version with other bytes is never published.
    const forged = join(root, 'forged.dsc');
    const dsc = source.find((a) => a.name.endsWith('.dsc'))!;
    await writeFile(forged, (await readFile(dsc.path, 'utf8')).replace('Standards-Version', 'Homepage: https://forged.invalid\nStandards-Version'));
    const forgedBytes = await readFile(forged);
    const { createHash } = await import('node:crypto');
    const forgedFile = { name: dsc.name, path: forged, size: forgedBytes.length, sha256: createHash('sha256').update(forgedBytes).digest('hex') };
    await assert.rejects(
      publishApt({ root, distribution: dist, packages: [{ name: 'hello-kiln', version: '1.0.0', arch: 'amd64', files: [...debs, forgedFile, source.find((a) => a.name.endsWith('.tar.xz'))!] }], signer, now: new Date() }),
      (e: unknown) => e instanceof PublishInputError && /already published with other bytes/.test(e.message),
    );
  });

  test('apt source - apt-get source in a clean container fetches, verifies and unpacks the published source package', async () => {
    assert.ok(report, 'published by the previous test');
    const r = await aptInContainer({
      repoDir: repoDir(),
      keyPath: join(repoDir(), keyFileName('stable')),
      suite: 'stable',
      debSrc: true,
      commands: ['cd /tmp && apt-get source --only-source hello-kiln', 'test -f /tmp/hello-kiln-1.0.0/debian/control', 'grep -q "Source: hello-kiln" /tmp/hello-kiln-1.0.0/debian/control', 'echo @@unpacked@@'],
    });
    assert.equal(r.exitCode, 0, r.output);
    assert.match(r.output, /@@unpacked@@/);
  });

  test('apt source - a source file whose bytes differ from the signed Sources is refused by apt-get source', async () => {
    const copy = join(root, 'tampered');
    await run('cp', ['-a', repoDir(), copy]);
    const tar = join(copy, 'pool/main/h/hello-kiln/hello-kiln_1.0.0.tar.xz');
    const bytes = await readFile(tar);
    bytes[bytes.length - 1] ^= 0xff; // same size, other bytes
    await rm(tar);
    await writeFile(tar, bytes, { mode: 0o644 });
    const r = await aptInContainer({ repoDir: copy, keyPath: join(copy, keyFileName('stable')), suite: 'stable', debSrc: true, commands: ['cd /tmp && apt-get source --only-source hello-kiln'] });
    assert.ok(r.updateOk, r.output);
    assert.notEqual(r.exitCode, 0, r.output);
    assert.match(r.output, /Hash Sum mismatch|hashes do not match|Hashes of expected file/i);
  });

  test('apt source - apt-get update reads the .xz indexes (a copy holding only .xz indexes works)', async () => {
    const copy = join(root, 'xz-only');
    await run('cp', ['-a', repoDir(), copy]);
    const suite = join(copy, 'dists/stable');
    const release = await readFile(join(suite, 'Release'), 'utf8');
    // Remove every plain and .gz index, named and by hash: only the .xz ones are left to fetch.
    for (const line of release.split('\n')) {
      const m = /^ ([0-9a-f]{64})\s+\d+\s+(\S+)$/.exec(line);
      if (!m || m[2].endsWith('.xz')) continue;
      const dir = m[2].slice(0, m[2].lastIndexOf('/'));
      await rm(join(suite, m[2]), { force: true });
      await rm(join(suite, dir, 'by-hash/SHA256', m[1]), { force: true });
    }
    const left = (await run('find', [suite, '-type', 'f', '-path', '*main*'])).stdout.split('\n').filter(Boolean);
    assert.ok(left.every((p) => p.endsWith('.xz') || /by-hash/.test(p)), left.join('\n'));
    const r = await aptInContainer({
      repoDir: copy,
      keyPath: join(copy, keyFileName('stable')),
      suite: 'stable',
      debSrc: true,
      install: ['hello-kiln'],
      commands: ['apt-cache showsrc hello-kiln | grep -q "^Version: 1.0.0"', 'hello-kiln', 'echo @@xz-ok@@'],
    });
    assert.equal(r.exitCode, 0, r.output);
    assert.match(r.output, /@@xz-ok@@/);
  });

  test('apt source - drift observation and pruning cover the source files', async () => {
    assert.ok(report, 'published by the first test');
    const record: ReleaseRecord = {
      distribution: 'stable',
      desiredCommit: 'c'.repeat(40),
      releaseSha256: report.releaseSha256,
      packages: [{ name: 'hello-kiln', version: '1.0.0', builds: { amd64: result.key }, artifacts: result.artifacts }],
    };
    assert.deepEqual(await observeRepository(root, dist, record), { cursor: 0 });
    const tar = join(repoDir(), 'pool/main/h/hello-kiln/hello-kiln_1.0.0.tar.xz');
    const bytes = await readFile(tar);
    await rm(tar);
    assert.match((await observeRepository(root, dist, record)).drift ?? '', /hello-kiln_1\.0\.0\.tar\.xz is missing/);
    await writeFile(tar, bytes, { mode: 0o644 });

    // The package leaves the suite: its source files leave the index and, after the grace period, the pool.
    const gone = await publishApt({ root, distribution: dist, packages: [], signer, now: new Date(), retainSeconds: 0 });
    for (const f of ['hello-kiln_1.0.0.dsc', 'hello-kiln_1.0.0.tar.xz']) assert.ok(gone.filesRemoved.includes(`pool/main/h/hello-kiln/${f}`), JSON.stringify(gone.filesRemoved));
    assert.equal(await readFile(join(repoDir(), 'dists/stable/main/source/Sources'), 'utf8'), '');
    // And it can come back (the same bytes).
    const back = await publishApt({ root, distribution: dist, packages: [{ name: 'hello-kiln', version: '1.0.0', arch: 'amd64', files: published }], signer, now: new Date(), retainSeconds: 0 });
    assert.equal(back.sources, 1);
  });
});
