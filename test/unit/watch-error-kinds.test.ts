// The watch loop's next step after a failed pass comes from the error's kind
// (retryPolicy), never from the error's class.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { afterPass, isStalled, type LoopState } from '../../reconciler/watch.ts';
import { errorFromJSON, LeaseHeldError, NatsConnectError, SigningError, SourceResolveError, UsageError } from '../../schema/errors.ts';

test('watch error kinds - terminal and usage stall until a new commit; transient backs off; waiting polls without counting', () => {
  const retry = { baseMs: 1000, capMs: 60_000 };
  const s: LoopState = { failures: 2, lastHead: 'h0', lastPassAt: 0 };
  const cases: { name: string; error: unknown; stalled: boolean; failures: number; retryAt?: number }[] = [
    { name: 'terminal (a hostile source tree)', error: new SourceResolveError('refusing tree entry'), stalled: true, failures: 0 },
    { name: 'usage (the signing key cannot be used)', error: new SigningError('no signing key'), stalled: true, failures: 0 },
    { name: 'usage', error: new UsageError('bad'), stalled: true, failures: 0 },
    { name: 'terminal, from the wire', error: errorFromJSON({ code: 'KILN_BUILD_FAILED', kind: 'terminal', message: 'x' }), stalled: true, failures: 0 },
    { name: 'transient (NATS down)', error: new NatsConnectError('refused'), stalled: false, failures: 3, retryAt: 100 + 3999 },
    { name: 'a surprise is transient', error: new TypeError('x is undefined'), stalled: false, failures: 3, retryAt: 100 + 3999 },
    { name: 'waiting (another reconciler holds the lease)', error: new LeaseHeldError('peer'), stalled: false, failures: 2, retryAt: 100 + 1000 },
  ];
  for (const c of cases) {
    assert.equal(isStalled(c.error), c.stalled, `${c.name}: stalled`);
    const next = afterPass(s, 'h1', 100, c.error, retry, () => 0.999999);
    assert.equal(next.failures, c.failures, `${c.name}: failures`);
    if (c.stalled) {
      assert.equal(next.stalledHead, 'h1', `${c.name}: waits for a commit after h1`);
      assert.equal(next.retryAt, undefined, `${c.name}: no timed retry`);
    } else {
      assert.equal(next.stalledHead, undefined, `${c.name}: not stalled`);
      assert.equal(next.retryAt, c.retryAt, `${c.name}: retry time`);
    }
  }
});
