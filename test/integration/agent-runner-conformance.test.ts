// Every BuildRunner must pass these: a buildable job ends with exit 0, output
// reported through onLog, and artifact files that exist inside the work dir.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { DockerRunner } from '../../agents/docker-runner.ts';
import { fetchSource } from '../../agents/fetch-source.ts';
import { NoopRunner } from '../../agents/noop-runner.ts';
import type { BuildRunner, WorkDir } from '../../agents/runner.ts';
import { makeJob, quietLog } from '../fixtures/agent-jobs.ts';
import { debSource, makeDebRepo } from '../fixtures/deb-source.ts';
import { dockerUnavailable } from '../helpers/docker.ts';

const runners: { name: string; make: () => BuildRunner; skip?: string }[] = [
  { name: 'NoopRunner', make: () => new NoopRunner() },
  { name: 'DockerRunner', make: () => new DockerRunner({ log: quietLog }), skip: await dockerUnavailable() },
];

for (const r of runners) {
  describe(`runner conformance - ${r.name}`, { skip: r.skip }, () => {
    test(`runner conformance - ${r.name} builds a buildable job: exit 0, log output, artifacts inside the work dir`, async (t) => {
      const runner = r.make();
      const root = await mkdtemp(join(tmpdir(), 'kiln-conf-'));
      t.after(() => rm(root, { recursive: true, force: true }));
      const repo = await makeDebRepo(debSource(), root);
      const work: WorkDir = { root: join(root, 'work') };
      if (runner.needsSource) {
        const src = await fetchSource({ url: repo.dir, commit: repo.commit }, join(work.root, 'src'), join(root, 'scratch'), quietLog);
        work.sourceDir = src.dir;
        work.buildDir = src.buildDir;
      } else {
        await mkdir(work.root, { recursive: true });
      }
      const chunks: Buffer[] = [];
      const out = await runner.run(makeJob({ url: repo.dir, commit: repo.commit }), work, { onLog: (b) => chunks.push(b), signal: new AbortController().signal });
      assert.equal(out.exitCode, 0, Buffer.concat(chunks).toString());
      assert.equal(out.oomKilled, false);
      assert.equal(out.timedOut, false);
      assert.equal(out.failure, undefined);
      assert.ok(out.artifacts.length > 0);
      for (const a of out.artifacts) {
        assert.ok(a.startsWith(work.root + '/'), `${a} is inside the work dir`);
        assert.ok((await stat(a)).isFile());
      }
      assert.ok(Buffer.concat(chunks).length > 0, 'onLog received output');
    });
  });
}
