import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classifyFailure, describeFailure, isRetryable, RETRYABLE } from '../../reconciler/records/failures.ts';
import { FAILURE_CLASSES } from '../../schema/status.ts';

test('records failures - only infra failures are retryable', () => {
  assert.deepEqual(
    FAILURE_CLASSES.filter((c) => isRetryable(c)),
    ['infra'],
  );
  assert.equal(Object.keys(RETRYABLE).length, FAILURE_CLASSES.length, 'every class has a policy');
});

test('records failures - classification infers limits when the agent names no class', () => {
  const cases: { name: string; result: Parameters<typeof classifyFailure>[0]; want: string }[] = [
    { name: 'explicit class wins', result: { failureClass: 'infra', oomKilled: true }, want: 'infra' },
    { name: 'oom', result: { oomKilled: true }, want: 'limit' },
    { name: 'timeout', result: { timedOut: true }, want: 'limit' },
    { name: 'plain failure', result: {}, want: 'build' },
    { name: 'an error that crossed NATS: terminal is the inputs\' fault', result: { error: { name: 'SourceResolveError', code: 'KILN_SOURCE_RESOLVE', kind: 'terminal', message: 'x', data: {} } }, want: 'build' },
    { name: 'an error that crossed NATS: transient is infra', result: { error: { name: 'AgentInfraError', code: 'KILN_AGENT_INFRA', kind: 'transient', message: 'x', data: {} } }, want: 'infra' },
  ];
  for (const c of cases) assert.equal(classifyFailure(c.result), c.want, c.name);
});

test('records failures - describeFailure prefers the agent reason, then the facts', () => {
  assert.equal(describeFailure({ reason: 'dpkg-buildpackage failed' }, 'build'), 'dpkg-buildpackage failed');
  assert.match(describeFailure({ oomKilled: true }, 'limit'), /out of memory/);
  assert.match(describeFailure({ timedOut: true }, 'limit'), /time limit/);
  assert.equal(describeFailure({ exitCode: 2 }, 'build'), 'build failure: exit code 2');
});
