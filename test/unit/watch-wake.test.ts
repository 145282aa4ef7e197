// watch(): a wake() that arrives while a pass runs (a webhook for a commit that
// landed during the pass it woke) must not be lost when the pass ends.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { watch } from '../../reconciler/watch.ts';
import { until } from '../helpers/until.ts';


test('watch - a wake during a pass runs another pass after it, without waiting for the interval', async () => {
  const reasons: string[] = [];
  let release!: () => void;
  const firstPassBlocked = new Promise<void>((r) => (release = r));
  const ctl = new AbortController();
  const handle = watch(
    {
      runPass: async (reason) => {
        reasons.push(reason);
        if (reasons.length === 1) await firstPassBlocked;
        return reason;
      },
      readHead: async () => 'same-head',
      log: pino({ level: 'silent' }),
      signal: ctl.signal,
      now: () => new Date(),
      random: () => 0.5,
    },
    { intervalMs: 3_600_000 },
  );
  try {
    await until(() => reasons.length === 1, 30_000, 'the first pass', 10);
    handle.wake('webhook push');
    release();
    await until(() => reasons.length === 2, 30_000, 'a pass for the wake', 10);
    assert.deepEqual(reasons, ['start', 'webhook push']);
  } finally {
    ctl.abort();
  }
  assert.deepEqual(await handle.done, { passes: 2, failedPasses: 0 });
});
