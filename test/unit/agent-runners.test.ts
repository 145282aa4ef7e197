import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RunnersByFormat } from '../../agents/runners.ts';
import { NoopRunner } from '../../agents/noop-runner.ts';
import type { BuildJob } from '../../schema/messages.ts';

const job = (format: string) =>
  ({
    inputs: { package: 'hello', version: '1.0-1', source: { url: 'x', commit: 'c' }, recipe: { format, rebuild: 0 }, image: 'i', arch: 'amd64', target: 't' },
  }) as unknown as BuildJob;

test('agent runners - the runner is chosen by the recipe format; an unknown format is a build failure naming what the agent builds', async () => {
  const deb = new NoopRunner();
  const runners = new RunnersByFormat({ deb });
  assert.equal(runners.runnerFor(job('deb')), deb);
  assert.equal(runners.runnerFor(job('rpm')), undefined);
  assert.equal(runners.runnerFor(job('constructor')), undefined);
  const root = await mkdtemp(join(tmpdir(), 'kiln-runners-'));
  try {
    const out = await runners.run(job('rpm'), { root }, { onLog: () => {}, signal: new AbortController().signal });
    assert.deepEqual(out.failure, { class: 'build', reason: "format 'rpm' is not built by this agent (it builds: deb)" });
    assert.equal(out.artifacts.length, 0);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('agent runners - prepare and close reach every runner of the table; close passes on a hard stop', async () => {
  const calls: string[] = [];
  const runner = (name: string) =>
    Object.assign(new NoopRunner(), { prepare: async () => void calls.push(`${name} prepare`), close: async (o: { hard?: boolean }) => void calls.push(`${name} close${o.hard ? ' hard' : ''}`) });
  const runners = new RunnersByFormat({ deb: runner('deb'), oci: runner('oci') });
  await runners.prepare();
  await runners.close({ hard: true });
  await runners.close({});
  assert.deepEqual(calls, ['deb prepare', 'oci prepare', 'deb close hard', 'oci close hard', 'deb close', 'oci close']);
});
