// A kiln/check that cannot run (the forge does not serve the head yet, the
// repository is unreadable) is not a verdict: the head stays pending and is
// tried again with backoff; only after the last try does it say `error`.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { pino } from 'pino';
import type { CheckVerdict } from '../../reconciler/forge/check-verdict.ts';
import { ForgeService } from '../../reconciler/forge/service.ts';
import { until } from '../helpers/until.ts';

const dirs: string[] = [];
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const HEAD = 'a'.repeat(40);

async function service(verdicts: Array<CheckVerdict | Error>, checkAttempts = 5, retry = { baseMs: 2, capMs: 10 }) {
  const stateDir = await mkdtemp(join(tmpdir(), 'kiln-check-retry-'));
  dirs.push(stateDir);
  const calls: number[] = [];
  const forge = await ForgeService.open({
    stateDir,
    config: () => undefined, // no forge configured: statuses are recorded and wait
    reconcileRecords: () => [],
    runCheck: async (_rev, pr) => {
      calls.push(pr ?? 0);
      const v = verdicts.shift() ?? new Error('no more verdicts');
      if (v instanceof Error) throw v;
      return v;
    },
    retry,
    checkAttempts,
    random: () => 1,
    log: pino({ level: 'silent' }),
  });
  const states = () => (forge.checks.all().find((e) => e.commit === HEAD)?.statuses ?? []).map((s) => `${s.state}: ${s.description}`);
  return { forge, calls, states, stateDir };
}

test('forge check - a head that could not be fetched stays pending and is checked again until it has a verdict', async () => {
  const { forge, calls, states } = await service([
    { ok: false, transient: true, summary: 'head aaaaaaaaaaaa could not be fetched: 502' },
    new Error('EIO: i/o error'),
    { ok: true, summary: 'trusted and valid: no change to builds or releases' },
  ]);
  await forge.onPullRequest(HEAD, 7);
  await until(() => states().length === 2, 10_000, 'the verdict after two failed tries');
  assert.deepEqual(states(), ['pending: checking', 'success: trusted and valid: no change to builds or releases']);
  assert.deepEqual(calls, [7, 7, 7], 'the pull request number is kept across tries');
  await forge.close();
});

test('forge check - a head that never becomes checkable gets `error` (not `failure`) after the last try', async () => {
  const never = { ok: false, transient: true, summary: 'head aaaaaaaaaaaa could not be fetched: 404' };
  const { forge, calls, states } = await service([never, never, never, never], 3);
  await forge.onPullRequest(HEAD, undefined);
  await until(() => states().length === 2, 10_000, 'the error status');
  assert.deepEqual(states(), ['pending: checking', 'error: gave up after 3 tries: head aaaaaaaaaaaa could not be fetched: 404']);
  assert.equal(calls.length, 3);
  await forge.close();
});

test('forge check - a verdict is final at once: a failing check is not retried', async () => {
  const { forge, calls, states } = await service([{ ok: false, summary: 'refused: commit not signed by a trusted key' }]);
  await forge.onPullRequest(HEAD, 1);
  await until(() => states().length === 2, 10_000, 'the failure status');
  assert.deepEqual(states(), ['pending: checking', 'failure: refused: commit not signed by a trusted key']);
  assert.equal(calls.length, 1);
  await forge.close();
});

test('forge check - a check waiting for its next try is still pending on disk, so a restart tries it again', async () => {
  // The next try is a minute away: the process stops first.
  const { forge, states, stateDir } = await service([{ ok: false, transient: true, summary: 'head aaaaaaaaaaaa could not be fetched: timeout' }], 5, { baseMs: 60_000, capMs: 60_000 });
  await forge.onPullRequest(HEAD, 2);
  await forge.checksSettled();
  assert.deepEqual(states(), ['pending: checking']);
  await forge.close();
  const calls: number[] = [];
  const again = await ForgeService.open({
    stateDir,
    config: () => undefined,
    reconcileRecords: () => [],
    runCheck: async (_rev, pr) => (calls.push(pr ?? 0), { ok: true, summary: 'trusted and valid' }),
    log: pino({ level: 'silent' }),
  });
  await until(() => again.checks.all()[0]?.statuses.length === 2, 10_000, 'the verdict after the restart');
  assert.deepEqual(again.checks.all()[0].statuses.map((s) => s.state), ['pending', 'success']);
  assert.deepEqual(calls, [2]);
  await again.close();
});
