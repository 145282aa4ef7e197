// kiln-test: long (scripts/test starts it first, so the run does not end waiting on it)
// The dependency phase: Build-Depends beyond the builder image are installed
// by real apt (network allowed) into a cached image; the build then runs
// offline from it. Unresolvable Build-Depends fail as class 'build' with apt's words.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { Objm } from '@nats-io/obj';
import { Agent } from '../../agents/agent.ts';
import { BUCKETS } from '../../schema/nats.ts';
import type { BuildResult } from '../../schema/messages.ts';
import { makeJob, publishJob, quietLog, startHarness, takeResults, type Harness } from '../fixtures/agent-jobs.ts';
import { debSource, makeDebRepo } from '../fixtures/deb-source.ts';
import { BASE_IMAGE, docker, dockerUnavailable, removeImage } from '../helpers/docker.ts';

async function objectText(h: Harness, name: string): Promise<string> {
  const r = await (await new Objm(h.nc).open(BUCKETS.artifacts)).get(name);
  assert.ok(r, `object ${name} exists`);
  const chunks: Uint8Array[] = [];
  for await (const c of r.data) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

/** A result's whole log: its object, or (a small log) its logTail. */
const logText = (h: Harness, r: BuildResult) => (r.log?.object ? objectText(h, r.log.object) : Promise.resolve(r.logTail ?? ''));

const ZLIB_C = '#include <stdio.h>\n#include <zlib.h>\nint main(void) { puts(zlibVersion()); return 0; }\n';

describe('agent build-deps (real apt in Docker)', { skip: await dockerUnavailable(BASE_IMAGE) }, () => {
  let h: Harness;
  let agent: Agent;
  let tag: string;

  before(async () => {
    h = await startHarness();
    agent = new Agent({ nc: h.nc, pool: 'deb', arch: 'amd64', workDir: h.workDir, log: quietLog, id: 'deps-agent' });
    await agent.start();
    // Leftovers of an earlier run would be found as cached: the tag is only known once apt resolved.
    for (const img of await docker.listImages({ filters: { reference: ['kiln-deps'] } })) {
      const comment = (await docker.getImage(img.Id).inspect()).Comment ?? '';
      if (comment.includes('zlib1g-dev=')) for (const t of img.RepoTags ?? []) await removeImage(t);
    }
  });
  after(async () => {
    await agent?.close();
    await h?.close();
    if (tag) await removeImage(tag);
  });

  test('agent build-deps - missing Build-Depends are installed once into a cached image, then reused', async () => {
    const files = debSource({ name: 'kiln-zlib', c: ZLIB_C, buildDepends: 'debhelper-compat (= 13), zlib1g-dev' });
    files.Makefile = String(files.Makefile).replace('-o $@ $<', '-o $@ $< -lz');
    const repo = await makeDebRepo(files, h.workDir);
    // The bare buildd image has neither debhelper nor zlib: both come from the dependency phase.
    const first = makeJob({ url: repo.dir, commit: repo.commit, package: 'kiln-zlib', image: BASE_IMAGE });
    await publishJob(h.nc, first);
    const [r1] = await takeResults(h.nc, 1, 300_000);
    assert.equal(r1.outcome, 'succeeded', r1.logTail);
    const log1 = await logText(h, r1);
    tag = /kiln: Build-Depends installed into image (kiln-deps:[0-9a-f]{64})/.exec(log1)?.[1] ?? '';
    assert.ok(tag, log1.slice(-3000));
    await docker.getImage(tag).inspect(); // the cached image exists under its content tag

    const second = makeJob({ url: repo.dir, commit: repo.commit, package: 'kiln-zlib', image: BASE_IMAGE });
    await publishJob(h.nc, second);
    const [r2] = await takeResults(h.nc, 1, 120_000);
    assert.equal(r2.outcome, 'succeeded', r2.logTail);
    const log2 = await logText(h, r2);
    assert.match(log1, /kiln: installing Build-Depends: debhelper-compat \(= 13\), zlib1g-dev/);
    assert.match(log1, /kiln: Build-Depends resolve to .*zlib1g-dev=\S+/, 'keyed by the versions apt resolved');
    assert.match(log2, new RegExp(`Build-Depends from cached image ${tag}`));
    assert.doesNotMatch(log2, /installing Build-Depends/);
  });

  test('agent build-deps - an unresolvable Build-Depends fails with class build and apt\'s message', async () => {
    const repo = await makeDebRepo(debSource({ buildDepends: 'debhelper-compat (= 13), kiln-no-such-package' }), h.workDir);
    const job = makeJob({ url: repo.dir, commit: repo.commit });
    await publishJob(h.nc, job);
    const [r] = await takeResults(h.nc, 1, 300_000);
    assert.equal(r.outcome, 'failed');
    assert.equal(r.failureClass, 'build', r.reason);
    assert.match(r.reason ?? '', /cannot install Build-Depends: .*Depends: kiln-no-such-package but it is not installable.*\nE: /s);
  });
});
