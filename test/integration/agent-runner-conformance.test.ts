// Every BuildRunner must pass these: a buildable job ends with exit 0, output
// reported through onLog, and a product: artifact files that exist inside the
// work dir (deb, noop) or an image the candidate registry serves as reported, in
// the recipe's repository (oci: an image has no files, it lives in the registry).
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DockerRunner } from '../../agents/docker-runner.ts';
import { fetchSource } from '../../agents/fetch-source.ts';
import { NoopRunner } from '../../agents/noop-runner.ts';
import { OciRunner } from '../../agents/oci-runner.ts';
import type { BuildRunner, RunOutcome, WorkDir } from '../../agents/runner.ts';
import { RegistryClient } from '../../oci/registry-client.ts';
import { verifyReportedImage } from '../../oci/verify-reported.ts';
import type { BuildJob } from '../../schema/messages.ts';
import { makeJob, quietLog } from '../fixtures/agent-jobs.ts';
import { debSource, makeDebRepo } from '../fixtures/deb-source.ts';
import { dockerUnavailable } from '../helpers/docker.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { makeImageSource } from '../helpers/tiny-image.ts';

interface RunnerCase {
  name: string;
  make: () => Promise<BuildRunner>;
  skip?: string;
  /** A buildable source in `root`: its git dir and commit. */
  source: (root: string) => Promise<{ dir: string; commit: string }>;
  job: (src: { dir: string; commit: string }) => BuildJob;
  /** The runner's product exists where its contract says. */
  produced: (out: RunOutcome, work: WorkDir) => Promise<void>;
}

async function filesInWorkDir(out: RunOutcome, work: WorkDir): Promise<void> {
  assert.ok(out.artifacts.length > 0);
  for (const a of out.artifacts) {
    assert.ok(a.startsWith(work.root + '/'), `${a} is inside the work dir`);
    assert.ok((await stat(a)).isFile());
  }
}

const debCase = { source: (root: string) => makeDebRepo(debSource(), root), job: (src: { dir: string; commit: string }) => makeJob({ url: src.dir, commit: src.commit }), produced: filesInWorkDir };

let registry: TestRegistry | undefined;
after(() => registry?.dispose());

const ociCase: Omit<RunnerCase, 'name' | 'skip'> = {
  make: async () => new OciRunner({ log: quietLog, candidate: (registry ??= await startRegistry('conformance')).host, insecure: true }),
  source: (root) => makeImageSource(join(root, 'image-src'), '.', 'FROM scratch\nADD rootfs.tar /\nENV PATH=/bin\nRUN echo conformance > /hello.txt\n'),
  job: (src) => {
    const job = makeJob({ url: src.dir, commit: src.commit, package: 'conformance', image: 'none' });
    return { ...job, pool: 'oci', inputs: { ...job.inputs, recipe: { format: 'oci', rebuild: 0, oci: { dockerfile: 'Dockerfile', context: '.', repository: 'kiln/conformance' } } } };
  },
  async produced(out) {
    assert.deepEqual(out.artifacts, [], 'an image has no files');
    assert.ok(out.image, 'the outcome names the image');
    assert.equal(out.image.repository, `${registry!.host}/kiln/conformance`);
    assert.deepEqual(await verifyReportedImage(new RegistryClient({ tlsVerify: false }), out.image), out.image);
  },
};

const runners: RunnerCase[] = [
  { name: 'NoopRunner', make: async () => new NoopRunner(), ...debCase },
  { name: 'DockerRunner', make: async () => new DockerRunner({ log: quietLog }), skip: await dockerUnavailable(), ...debCase },
  { name: 'OciRunner', skip: await dockerUnavailable(), ...ociCase },
];

for (const r of runners) {
  describe(`runner conformance - ${r.name}`, { skip: r.skip }, () => {
    test(`runner conformance - ${r.name} builds a buildable job: exit 0, log output, its product where its contract says`, async (t) => {
      const runner = await r.make();
      const root = await mkdtemp(join(tmpdir(), 'kiln-conf-'));
      t.after(() => rm(root, { recursive: true, force: true }));
      const repo = await r.source(root);
      const work: WorkDir = { root: join(root, 'work') };
      if (runner.needsSource) {
        const src = await fetchSource({ url: repo.dir, commit: repo.commit }, join(work.root, 'src'), join(root, 'scratch'), quietLog);
        work.sourceDir = src.dir;
        work.buildDir = src.buildDir;
      } else {
        await mkdir(work.root, { recursive: true });
      }
      const chunks: Buffer[] = [];
      const out = await runner.run(r.job(repo), work, { onLog: (b) => chunks.push(b), signal: new AbortController().signal });
      assert.equal(out.exitCode, 0, Buffer.concat(chunks).toString());
      assert.equal(out.oomKilled, false);
      assert.equal(out.timedOut, false);
      assert.equal(out.failure, undefined);
      await r.produced(out, work);
      assert.ok(Buffer.concat(chunks).length > 0, 'onLog received output');
    });
  });
}
