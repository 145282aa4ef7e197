import assert from 'node:assert/strict';
import { test } from 'node:test';
import { EngineImages, MAX_PENDING } from '../../agents/engine-images.ts';
import { lostImage } from '../../agents/oci-build.ts';
import { isStaleOwnTag, LEFTOVER_AFTER_MS, OWN_TAG_REPOSITORY, ownBuildTag } from '../../agents/oci-own-tag.ts';
import { AgentInfraError } from '../../schema/errors.ts';
import { until } from '../helpers/until.ts';

/** A promise with its resolve outside, and a flag saying it started. */
function step(): { started: boolean; done: () => void; run: () => Promise<void> } {
  let done!: () => void;
  const gate = new Promise<void>((r) => (done = r));
  const s = { started: false, done: () => done(), run: async () => {
    s.started = true;
    await gate;
  } };
  return s;
}

/** Let every queued promise reaction run (no time passes: a condition, not a wait). */
const settle = () => new Promise<void>((r) => setImmediate(r));

test('engine images - builds run side by side; a removal asked for meanwhile returns at once and runs when the last build ends; a build asked for then waits for it', async () => {
  const gate = new EngineImages();
  const [b1, b2, rm, b3] = [step(), step(), step(), step()];
  const p1 = gate.build(b1.run);
  const p2 = gate.build(b2.run);
  await settle();
  assert.ok(b1.started && b2.started, 'two builds run at once');
  gate.removeWhenIdle(rm.run);
  assert.equal(gate.waitingRemovals, 1);
  const p3 = gate.build(b3.run);
  await settle();
  assert.ok(b3.started, 'a build does not wait for a removal that waits for builds');
  assert.equal(rm.started, false, 'the removal waits for the running builds');
  b1.done();
  b3.done();
  await Promise.all([p1, p3]);
  await settle();
  assert.equal(rm.started, false, 'one build still runs');
  b2.done();
  await p2;
  await settle();
  assert.ok(rm.started, 'the removal runs once no build does');
  const b4 = step();
  const p4 = gate.build(b4.run);
  await settle();
  assert.equal(b4.started, false, 'a build asked for while a removal runs waits for it');
  rm.done();
  await settle();
  assert.ok(b4.started, 'and runs after it');
  b4.done();
  await p4;
  await gate.idle();
});

test(`engine images - with ${MAX_PENDING} removals waiting under a steady stream of builds, new builds wait until the running ones end and the removals ran`, async () => {
  const gate = new EngineImages();
  const running = step();
  const p = gate.build(running.run);
  await settle();
  let removed = 0;
  for (let i = 0; i < MAX_PENDING; i++) gate.removeWhenIdle(async () => void removed++);
  const next = step();
  const pn = gate.build(next.run);
  await settle();
  assert.equal(next.started, false, 'the pile of removals goes first');
  assert.equal(removed, 0);
  running.done();
  await p;
  await settle();
  assert.equal(removed, MAX_PENDING);
  assert.ok(next.started);
  next.done();
  await pn;
});

test('engine images - a failing removal goes to its onError and the next still runs; a failing build still lets removals run; idle() waits for them all', async () => {
  const gate = new EngineImages();
  const errors: string[] = [];
  const running = step();
  const p = gate.build(running.run);
  await settle();
  let removed = 0;
  gate.removeWhenIdle(async () => {
    throw new Error('conflict: image is in use');
  }, (e) => errors.push((e as Error).message));
  gate.removeWhenIdle(async () => void removed++);
  const idle = gate.idle();
  const failing = gate.build(async () => {
    throw new Error('build failed');
  });
  await assert.rejects(failing, /build failed/);
  assert.equal(removed, 0, 'a build still runs');
  running.done();
  await p;
  await idle;
  assert.deepEqual(errors, ['conflict: image is in use']);
  assert.equal(removed, 1);
  assert.equal(gate.waitingRemovals, 0);
  assert.equal(await gate.build(async () => 'built'), 'built', 'a build runs after a failed removal');
});

test('engine images - a build waiting for its turn stops waiting when its signal aborts (an agent stopping), and never runs', async () => {
  const gate = new EngineImages();
  const removal = step();
  gate.removeWhenIdle(removal.run);
  await settle();
  assert.ok(removal.started);
  const stop = new AbortController();
  let ran = false;
  const waiting = gate.build(async () => void (ran = true), stop.signal);
  await settle();
  stop.abort();
  await assert.rejects(waiting, (e: unknown) => e instanceof AgentInfraError && /agent is stopping/.test(e.message));
  removal.done();
  await gate.idle();
  assert.equal(ran, false);
  assert.equal(await gate.build(async () => 'next'), 'next', 'the gate still works');
});

test('engine images - a removal that throws at once, an error handler that throws, and a removal past its deadline leave the gate open', async () => {
  const gate = new EngineImages(50);
  const errors: string[] = [];
  let hungSignal: AbortSignal | undefined;
  gate.removeWhenIdle(() => {
    throw new Error('thrown at once');
  }, (e) => errors.push((e as Error).message));
  gate.removeWhenIdle(async () => {
    throw new Error('rejected');
  }, () => {
    throw new Error('the handler throws');
  });
  // Never settles by itself: only the gate's deadline ends it.
  gate.removeWhenIdle((signal) => {
    hungSignal = signal;
    return new Promise(() => undefined);
  }, (e) => errors.push((e as Error).message));
  assert.equal(await gate.build(async () => 'built'), 'built', 'a build runs after the removals');
  await gate.idle();
  assert.equal(errors[0], 'thrown at once');
  assert.match(errors[1], /image removals ran past their 50 ms/);
  assert.equal(hungSignal?.aborted, true, 'the overdue removal\'s request is aborted');
});

test('engine images - a run of removals cut short by its deadline lets the waiting builds go first; the rest run at the next idle moment', async () => {
  const gate = new EngineImages(50);
  let later = 0;
  gate.removeWhenIdle(() => new Promise(() => undefined));
  gate.removeWhenIdle(async () => void later++);
  const b = step();
  const pb = gate.build(b.run);
  await until(() => b.started, 5000, 'the waiting build to run once the deadline passed');
  assert.equal(later, 0, 'the rest of the run waits');
  assert.equal(gate.waitingRemovals, 1);
  b.done();
  await pb;
  await gate.idle();
  assert.equal(later, 1, 'and runs once no build does');
});

test('own build tag - the tag carries its time: older than any live one can be, or untimed (older agents), it is a leftover; others are not', () => {
  const now = Date.UTC(2026, 10, 30);
  const tag = ownBuildTag(now);
  assert.match(tag, new RegExp(`^${OWN_TAG_REPOSITORY}:\\d{10}-[0-9a-f]{24}$`));
  assert.equal(isStaleOwnTag(tag, now + 1000), false);
  assert.equal(isStaleOwnTag(tag, now + LEFTOVER_AFTER_MS - 1000), false);
  assert.equal(isStaleOwnTag(tag, now + LEFTOVER_AFTER_MS + 1000), true);
  for (const other of ['kiln/base:1700000000-abc', `${OWN_TAG_REPOSITORY}:latest`, `${OWN_TAG_REPOSITORY}-x:0123456789abcdef01234567`]) assert.equal(isStaleOwnTag(other, now + 10 * LEFTOVER_AFTER_MS), false, other);
  // Agents from before tags carried their time named them by 24 hex digits alone: all leftovers by now.
  assert.equal(isStaleOwnTag(`${OWN_TAG_REPOSITORY}:0123456789abcdef01234567`, now), true);
});

test('engine images - the engine\'s four ways of saying it lost an image are a lost image; a recipe\'s failures are not', () => {
  const id = 'sha256:5419f30e315a2537393f3ffee55a1ea41c9df64d043caee39c49f608e7ffec8e';
  // Exactly as the engine (docker.io 20.10) reported them in builds beside removals.
  for (const error of [
    `No such image: ${id}`,
    `unable to find image "${id}"`,
    `failed to get digest ${id}: open /var/lib/docker/image/overlay2/imagedb/content/sha256/${id.slice(7)}: no such file or directory`,
    `unknown parent image ID ${id}`,
  ]) assert.equal(lostImage(error), true, error);
  for (const error of [
    undefined,
    "The command '/bin/sh -c false' returned a non-zero code: 1",
    'No such image: 127.0.0.1:5000/base@sha256:5419f30e315a2537393f3ffee55a1ea41c9df64d043caee39c49f608e7ffec8e',
    'No such image: sha256:5419f30e',
    `COPY failed: file not found in build context: ${id}`,
  ]) assert.equal(lostImage(error), false, String(error));
});
