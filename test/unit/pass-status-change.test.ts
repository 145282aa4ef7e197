import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parse } from 'yaml';
import { emptyObserved, type BuildAction, type ObservedState } from '../../reconciler/model.ts';
import { emptyEvents, type PassEvents } from '../../reconciler/pass/events.ts';
import { statusChangeFor, type StatusChangeContext } from '../../reconciler/pass/status-change.ts';
import type { BuildResult } from '../../schema/messages.ts';
import type { BuildRecord } from '../../schema/status.ts';

const NOW = new Date('2026-11-21T12:00:00Z');
const ctx: StatusChangeContext = { policy: { maxAttempts: 3, backoff: { baseMs: 1000, capMs: 60_000 } }, now: NOW, random: () => 0.5 };
const D = 'd'.repeat(40);
const inputs = (pkg: string) => ({ package: pkg, version: '1.0-1', source: { url: '/src', commit: 'c'.repeat(40) }, recipe: { format: 'deb', rebuild: 0 }, image: 'img', arch: 'amd64', target: 'deb' });
const key = (n: number) => n.toString(16).padStart(64, 'a');

function action(n: number, pkg: string): BuildAction {
  return { kind: 'build', key: key(n), package: pkg, version: '1.0-1', arch: 'amd64', pool: 'deb', attempt: 1, inputs: inputs(pkg), limits: { memoryMiB: 512, cpus: 1, pids: 64, timeoutSeconds: 60 }, reason: 'NeverBuilt', message: 'never built' };
}

function result(n: number, pkg: string, outcome: 'succeeded' | 'failed' = 'succeeded'): BuildResult {
  return {
    v: 1, key: key(n), attempt: 1, inputs: inputs(pkg), pool: 'deb', agent: 'a1', outcome,
    ...(outcome === 'failed' ? { failureClass: 'build' as const, exitCode: 2, reason: 'exit 2' } : {}),
    artifacts: outcome === 'succeeded' ? [{ name: `${pkg}_1.0-1_amd64.deb`, sha256: 'e'.repeat(64), size: 10 }] : [],
    startedAt: NOW.toISOString(), finishedAt: NOW.toISOString(),
  };
}

/** The observed state after writing `files` (what the reader would return). */
function applied(o: ObservedState, files: Map<string, string | null>): ObservedState {
  const builds = new Map(o.builds);
  for (const [path, content] of files) if (path.startsWith('builds/') && content) builds.set(path.slice(7, -5), parse(content) as BuildRecord);
  return { ...o, builds };
}

test('pass status change - names what changed in the subject; trailers carry the desired commit and counts', () => {
  const events: PassEvents = { ...emptyEvents(D), dispatched: [action(1, 'hello')], results: [result(2, 'world'), result(3, 'broken', 'failed')] };
  const change = statusChangeFor(emptyObserved(), events, ctx)!;
  assert.equal(change.summary, `kiln: built world 1.0-1/amd64; failed broken 1.0-1/amd64; dispatch hello 1.0-1/amd64 (desired ${D.slice(0, 12)})`);
  assert.deepEqual(change.trailers, { 'Kiln-Desired': D, 'Kiln-Builds': 3 });
  assert.equal(change.files.size, 3);
});

test('pass status change - a refused commit is not Kiln-Desired and records its check once', () => {
  const events: PassEvents = { ...emptyEvents(D), trusted: false, checks: [{ commit: D, verdict: 'refused', reason: 'unsigned', at: NOW.toISOString() }] };
  const change = statusChangeFor(emptyObserved(), events, ctx)!;
  assert.deepEqual(change.trailers, { 'Kiln-Refused': D });
  assert.match(change.summary, /^kiln: refuse untrusted commit d{12}/);
  const o = emptyObserved();
  o.checks.set(D, events.checks[0]);
  assert.equal(statusChangeFor(o, events, ctx), null, 'already recorded: nothing to write');
});

test('pass status change - idempotent: the same events against the state they produced write nothing', () => {
  const events: PassEvents = { ...emptyEvents(D), results: [result(2, 'world')], signatures: new Map([[key(2), [['signatures/' + 'e'.repeat(64) + '.asc', 'SIG']]]]) };
  const first = statusChangeFor(emptyObserved(), events, ctx)!;
  assert.ok(first.files.has('signatures/' + 'e'.repeat(64) + '.asc'), 'the signature is written with the success that produced it');
  assert.equal(statusChangeFor(applied(emptyObserved(), first.files), events, ctx), null);
});

test('pass status change - many subjects are summarised with a count', () => {
  const events: PassEvents = { ...emptyEvents(D), dispatched: [1, 2, 3, 4, 5].map((n) => action(n, `p${n}`)) };
  assert.match(statusChangeFor(emptyObserved(), events, ctx)!.summary, /^kiln: dispatch 5 \(p1 1\.0-1\/amd64, p2 1\.0-1\/amd64, …\)/);
});
