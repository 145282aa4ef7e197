// kiln-test: long (scripts/test starts it first, so the run does not end waiting on it)
// Builds and image removals on one real Docker engine. The legacy builder names a
// cached step's image by ID and looks it up again for the next step; a build beside
// it that untags its own image deletes that image's untagged parents, and the
// engine then answers "No such image" (a CI run failed so: two test files built
// the same base at once). Measured without the fix: 7 of 75 builds of one recipe,
// three at a time, failed, each recorded as the recipe's failure. Now this
// process's builds and removals are kept apart (engine-images.ts: removals wait
// until no build runs), a build whose image another process took is built again,
// then retried as infrastructure, and what an agent killed before it untagged its
// images left is untagged at a later start.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import type Docker from 'dockerode';
import pino, { type Logger } from 'pino';
import { engineImages } from '../../agents/engine-images.ts';
import { OciRunner } from '../../agents/oci-runner.ts';
import { LEFTOVER_AFTER_MS, OWN_TAG_REPOSITORY, ownBuildTag } from '../../agents/oci-own-tag.ts';
import { buildOciImage, LOST_IMAGE_ATTEMPTS, type OciBuildSpec } from '../../agents/oci-build.ts';
import { byTag } from '../../oci/image-ref.ts';
import { RegistryClient } from '../../oci/registry-client.ts';
import { AgentInfraError, kindOf } from '../../schema/errors.ts';
import type { ResolvedLimits } from '../../schema/messages.ts';
import { BASE_IMAGE, docker, dockerUnavailable, engineBuild, untagRegistryImages } from '../helpers/docker.ts';
import { startRegistry, type TestRegistry } from '../helpers/registry.ts';
import { writeBusyboxRootfs } from '../helpers/tiny-image.ts';
import { until, withDeadline } from '../helpers/until.ts';
import { logRing } from '../helpers/log-ring.ts';

const limits: ResolvedLimits = { memoryMiB: 256, cpus: 1, pids: 256, timeoutSeconds: 120 };
const registry = new RegistryClient({ tlsVerify: false });
/** This file's own label on its images: its builds share no layer with other files' (the first step copies it). */
const RUN_ID = randomBytes(8).toString('hex');
const LOST = 'No such image: sha256:5419f30e315a2537393f3ffee55a1ea41c9df64d043caee39c49f608e7ffec8e';

let dir: string;
let cand: TestRegistry;
/** This file's base (FROM scratch, its first step copying RUN_ID), by digest: the recipe's cached steps are its children. */
let base: string;

interface BuildOptions {
  context?: string;
  /** Default lost/<context>. */
  repository?: string;
  within?: ResolvedLimits;
  agentLog?: Logger;
  onLog?: (text: string) => void;
}

async function build(client: Docker, tag: string, o: BuildOptions = {}): Promise<{ outcome: Awaited<ReturnType<typeof buildOciImage>>; log: string }> {
  const context = o.context ?? 'img';
  let log = '';
  const spec: OciBuildSpec = { sourceDir: dir, context, dockerfile: `${context}/Dockerfile`, ...(context === 'img' ? { base } : {}), push: byTag(cand.host, o.repository ?? `lost/${context}`, tag), labels: { 'kiln.test-run': RUN_ID } };
  const outcome = await buildOciImage(client, registry, spec, o.within ?? limits, {
    onLog: (b) => {
      log += b.toString();
      o.onLog?.(log);
    },
    log: o.agentLog,
  });
  return { outcome, log };
}

/** `docker` whose first `lost` builds end as the engine ends a build whose image was taken (the context is read and dropped). */
function losingEngine(lost: number): { client: Docker; calls: () => number } {
  let calls = 0;
  const client = Object.create(docker) as Docker;
  client.buildImage = (async (tar: Readable, opts: object) => {
    calls++;
    if (calls > lost) return docker.buildImage(tar, opts);
    tar.resume();
    return Readable.from([`${JSON.stringify({ stream: 'Step 1/4 : FROM base\n' })}\n`, `${JSON.stringify({ errorDetail: { message: LOST }, error: LOST })}\n`]);
  }) as Docker['buildImage'];
  return { client, calls: () => calls };
}

/**
 * `docker` whose builds end as `plan` says, in turn ('lost': the engine lost an image; 'stall': a build that
 * never answers), then reach the engine; removals of own tags are recorded and answered with a 500.
 */
function scriptedEngine(plan: Array<'lost' | 'stall'>): { client: Docker; removed: string[] } {
  const removed: string[] = [];
  const client = Object.create(docker) as Docker;
  let call = 0;
  client.buildImage = (async (tar: Readable, opts: object) => {
    const next = plan[call++];
    if (!next) return docker.buildImage(tar, opts);
    tar.resume();
    if (next === 'stall') return new Readable({ read() {} });
    return Readable.from([`${JSON.stringify({ errorDetail: { message: LOST }, error: LOST })}\n`]);
  }) as Docker['buildImage'];
  client.getImage = (name: string) => {
    const image = docker.getImage(name);
    if (name.startsWith(`${OWN_TAG_REPOSITORY}:`)) {
      image.remove = (async () => {
        removed.push(name);
        throw Object.assign(new Error('server error: engine says no'), { statusCode: 500 });
      }) as typeof image.remove;
    }
    return image;
  };
  return { client, removed };
}

describe('oci engine images', { skip: await dockerUnavailable(BASE_IMAGE) }, () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kiln-oci-lost-'));
    for (const d of ['base', 'img', 'scratch']) await mkdir(join(dir, d));
    const rootfs = await writeBusyboxRootfs(join(dir, 'base'));
    await copyFile(rootfs, join(dir, 'scratch', 'rootfs.tar'));
    await writeFile(join(dir, 'base', 'run-id'), RUN_ID);
    await writeFile(join(dir, 'base', 'Dockerfile'), 'FROM scratch\nCOPY run-id /run-id\nADD rootfs.tar /\nENV PATH=/bin\n');
    await writeFile(join(dir, 'img', 'Dockerfile'), 'FROM base\nENV STEP=2\nENV STEP=3\nENV STEP=4\n');
    await writeFile(join(dir, 'scratch', 'Dockerfile'), 'FROM scratch\nADD rootfs.tar /\nENV PATH=/bin\n');
    cand = await startRegistry('candidate');
    const { outcome, log } = await build(docker, 'base', { context: 'base' });
    assert.ok(outcome.ok, log);
    base = `${outcome.image.repository}@${outcome.image.manifestDigest}`;
  });
  after(async () => {
    await engineImages(docker).idle();
    if (cand) await untagRegistryImages([cand.host]);
    await cand?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('oci engine images - 36 builds of one recipe, three at a time, each untagging its image after the push: all pass, none loses an image, none is left tagged', async () => {
    const results: Array<{ ok: boolean; log: string }> = [];
    await Promise.all([0, 1, 2].map(async (worker) => {
      for (let i = 0; i < 12; i++) {
        // A repository per worker: the same manifest pushed at once into one repository makes distribution 2.8
        // answer 500 now and then (it rewrites its link files in place), which is not what this test is about.
        const { outcome, log } = await build(docker, `w${worker}-${i}`, { repository: `lost/img-w${worker}` });
        results.push({ ok: outcome.ok, log });
      }
    }));
    assert.equal(results.length, 36);
    for (const r of results) {
      assert.ok(r.ok, r.log);
      assert.doesNotMatch(r.log, /engine lost an image/, 'a build of this process lost an image to a removal of this process');
    }
    await engineImages(docker).idle();
    const left = await docker.listImages({ filters: { label: [`kiln.test-run=${RUN_ID}`], reference: [`${OWN_TAG_REPOSITORY}:*`] } });
    assert.deepEqual(left, [], 'every build untagged its own image');
  });

  test('oci engine images - a build whose image the engine lost is built again and pushed', async () => {
    const engine = losingEngine(2);
    const { outcome, log } = await build(engine.client, 'again');
    assert.ok(outcome.ok, log);
    assert.equal(engine.calls(), 3);
    assert.match(log, /engine lost an image the build had just used \(No such image: sha256:5419f30e/);
    assert.match(log, /building again \(3 of 5\)/);
    const pushed = await registry.inspect(byTag(cand.host, 'lost/img', 'again'));
    assert.equal(pushed.manifestDigest, outcome.image.manifestDigest);
  });

  test(`oci engine images - lost in each of ${LOST_IMAGE_ATTEMPTS} builds: an infrastructure error (the job is retried later), not the recipe's failure; nothing pushed`, async () => {
    const engine = losingEngine(LOST_IMAGE_ATTEMPTS);
    const err = await build(engine.client, 'never').then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof AgentInfraError, String(err));
    assert.equal(kindOf(err), 'transient');
    assert.match(err.message, /lost an image during each of 5 builds/);
    assert.equal(engine.calls(), LOST_IMAGE_ATTEMPTS);
    await assert.rejects(registry.inspect(byTag(cand.host, 'lost/img', 'never')));
  });

  test('oci engine images - an agent untags at start the images a killed run of it built, and any agent\'s older than a build can run; not a live one\'s', async () => {
    await engineImages(docker).idle();
    const mine = `kiln-test-agent-${RUN_ID}`;
    const [mineTag, theirs, theirsStale] = [ownBuildTag(), ownBuildTag(), ownBuildTag(Date.now() - LEFTOVER_AFTER_MS - 60_000)];
    await engineBuild(join(dir, 'base'), mineTag, { 'kiln.agent': mine, 'kiln.test-run': RUN_ID });
    await engineBuild(join(dir, 'base'), theirs, { 'kiln.agent': 'someone-else', 'kiln.test-run': RUN_ID });
    const [repo, tag] = theirsStale.split(':');
    await docker.getImage(theirs).tag({ repo, tag }).catch((e: Error) => assert.fail(`tag ${theirs} as ${theirsStale}: ${e.message}`));
    await new OciRunner({ log: pino({ level: 'silent' }), candidate: cand.host, insecure: true, labels: { 'kiln.agent': mine } }).prepare();
    const tags = (await docker.listImages({ filters: { label: [`kiln.test-run=${RUN_ID}`] } })).flatMap((i) => i.RepoTags ?? []);
    assert.ok(!tags.includes(mineTag), `this agent's ${mineTag} is still there`);
    assert.ok(!tags.includes(theirsStale), `the week-old ${theirsStale} is still there`);
    assert.ok(tags.includes(theirs), `another agent's ${theirs} was removed`);
    await docker.getImage(theirs).remove().catch((e: Error) => assert.fail(`untag ${theirs}: ${e.message}`));
  });

  test('oci engine images - an agent stopping waits for its image removals, which wait for the builds; a hard stop does not wait', async () => {
    await engineImages(docker).idle();
    const runner = new OciRunner({ log: pino({ level: 'silent' }), candidate: cand.host, insecure: true, labels: { 'kiln.agent': `closer-${RUN_ID}` } });
    const tag = ownBuildTag();
    const [repo, name] = tag.split(':');
    await docker.getImage(BASE_IMAGE).tag({ repo, tag: name });
    let release!: () => void;
    const held = engineImages(docker).build(() => new Promise<void>((r) => (release = r)));
    engineImages(docker).removeWhenIdle((signal) => docker.getImage(tag).remove({ abortSignal: signal }));
    // A bound, not a wait: close() without `hard` would wait here until CLOSE_WAIT_MS (30 s).
    assert.equal(await withDeadline(runner.close({ hard: true }).then(() => 'closed'), 10_000, 'a hard stop').catch(() => 'waited'), 'closed');
    assert.ok(await docker.getImage(tag).inspect(), 'a hard stop left the removal to a later start');
    let closed = false;
    const closing = runner.close().then(() => void (closed = true));
    await new Promise<void>((r) => setImmediate(r));
    assert.equal(closed, false, 'the stop waits while a build runs');
    release();
    await held;
    await closing;
    await assert.rejects(docker.getImage(tag).inspect(), 'the tag is gone once the stop returned');
  });

  test('oci engine images - a build that waited for the engine longer than its time limit still gets its whole limit', async () => {
    await engineImages(docker).idle();
    // A removal held open keeps the engine busy: builds wait for it.
    let release: (() => void) | undefined;
    engineImages(docker).removeWhenIdle(() => new Promise<void>((r) => (release = r)));
    await until(() => release !== undefined, 10_000, 'the held removal to start');
    let atGate = 0;
    // 5 s: more than a quiet engine needs for this recipe's five steps (a 1 s limit failed under load).
    const waiting = build(docker, 'waited', {
      within: { ...limits, timeoutSeconds: 5 },
      onLog: (log) => {
        if (!atGate && log.includes('kiln: docker build')) atGate = Date.now();
      },
    });
    await until(() => atGate > 0 && Date.now() - atGate > 5500, 60_000, 'more than the build\'s 5 s limit to pass while it waits at the gate');
    const released = Date.now();
    release!();
    const { outcome, log } = await waiting;
    const afterGate = Date.now() - released;
    // Its limit counts from the gate: it either finished, or (a CI run under load took over 5 s for this
    // recipe) ran out of time only after a whole 5 s past the gate. A limit counted from before the gate
    // would have run out the moment the gate opened.
    if (!outcome.ok) {
      assert.ok(outcome.timedOut, log);
      assert.ok(afterGate >= 5000, `timed out ${afterGate} ms after the gate opened, not its whole 5 s limit\n${log}`);
    }
  });

  test('oci engine images - a build out of time is the recipe\'s limit failure, but out of time after a lost image is infrastructure; each asks for its own tag\'s removal, and a failing removal is logged', async () => {
    const short = { ...limits, timeoutSeconds: 1 };
    const ring = logRing();
    const first = scriptedEngine(['stall']);
    const { outcome } = await build(first.client, 'stalled', { within: short, agentLog: ring.log });
    assert.ok(!outcome.ok && outcome.class === 'limit' && outcome.timedOut, JSON.stringify(outcome));
    const second = scriptedEngine(['lost', 'stall']);
    const err = await build(second.client, 'lost-then-stalled', { within: short, agentLog: ring.log }).then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof AgentInfraError, String(err));
    assert.match(err.message, /ran out of its time limit after the engine lost an image 1 times/);
    await engineImages(docker).idle();
    for (const engine of [first, second]) {
      assert.equal(engine.removed.length, 1, 'the build\'s own tag is untagged though no image was reported');
      assert.match(engine.removed[0], new RegExp(`^${OWN_TAG_REPOSITORY}:\\d{10}-[0-9a-f]{24}$`));
    }
    const warnings = ring.lines().filter((l) => l.includes('could not untag a built image'));
    assert.equal(warnings.length, 2, ring.lines().join('\n'));
    assert.match(warnings[0], /engine says no/);
  });

  test('oci engine images - a build FROM scratch takes no cached step, even with the same recipe\'s steps on the engine', async () => {
    // The first step of a FROM scratch build finds its cache among every locally built image without a parent.
    // A build whose parent image a removal took mid-build leaves exactly such an image behind, layers and all
    // (seen here: a two-layer image with no parent after builds beside removals), and a later build of another
    // recipe whose first step reads the same took it (a CI run built a one-layer base as two layers).
    // A build held open keeps the first build's images (their removal waits for it) while the second runs.
    let release!: () => void;
    const held = engineImages(docker).build(() => new Promise<void>((r) => (release = r)));
    try {
      for (const tag of ['first', 'second']) {
        const { outcome, log } = await build(docker, tag, { context: 'scratch' });
        assert.ok(outcome.ok, log);
        assert.doesNotMatch(log, /Using cache/, `${tag} build`);
        assert.equal(outcome.image.layers.length, 1, 'FROM scratch + ADD rootfs.tar is one layer');
      }
      assert.ok(engineImages(docker).waitingRemovals >= 2, 'the first build\'s image was still there');
    } finally {
      release();
      await held;
    }
  });
});
