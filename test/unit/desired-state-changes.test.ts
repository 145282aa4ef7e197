// The desired-state change records (reconciler/desired/state-changes.ts) must not keep earlier
// states alive: each pass records its state against the previous one, and a strong reference
// there kept every state a reconciler ever read (each with its package map) for as long as the
// newest lived. The same holds for the build-record change lists (status/build-changes.ts).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { desiredChangesSince, recordDesiredChanges } from '../../reconciler/desired/state-changes.ts';
import type { DesiredState } from '../../reconciler/model.ts';
import { buildKeysChangedBetween, withBuilds } from '../../reconciler/status/build-changes.ts';
import type { BuildRecord } from '../../schema/status.ts';
import { desiredPackage, desiredState } from '../fixtures/plan-state.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

async function collected(ref: WeakRef<object>): Promise<boolean> {
  for (let i = 0; i < 10 && ref.deref() !== undefined; i++) {
    await new Promise((r) => setImmediate(r)); // a WeakRef's target is kept until the current job ends
    gc();
  }
  return ref.deref() === undefined;
}

/** Five states, each recorded against the one before; only a WeakRef to the first is kept. */
function desiredChain(): { newest: DesiredState; oldest: WeakRef<DesiredState> } {
  let state: DesiredState = desiredState([desiredPackage('aa')]);
  const oldest = new WeakRef(state);
  for (let i = 0; i < 5; i++) {
    const next: DesiredState = { ...state, commit: `c${i}`, packages: new Map(state.packages).set('aa', desiredPackage('aa', { rebuild: i + 1 })) };
    recordDesiredChanges(next, { since: state, packages: new Set(['aa']), appended: [] });
    assert.deepEqual([...desiredChangesSince(state, next)!.packages], ['aa']);
    state = next;
  }
  return { newest: state, oldest };
}

test('desired state changes - a chain of recorded states keeps only the newest alive', async () => {
  const { newest, oldest } = desiredChain();
  assert.ok(await collected(oldest), 'the first state was collected while the newest is alive');
  assert.equal(newest.packages.get('aa')?.rebuild, 5);
});

function buildsChain(): { newest: Map<string, BuildRecord>; oldest: WeakRef<Map<string, BuildRecord>> } {
  const record = (n: number) => ({ key: 'k', state: 'queued', attempts: [], n }) as unknown as BuildRecord;
  let builds = new Map([['k', record(0)]]);
  const oldest = new WeakRef(builds);
  for (let i = 1; i <= 5; i++) builds = withBuilds(builds, new Map([['k', record(i)]]));
  return { newest: builds, oldest };
}

test('status build changes - a chain of recorded build maps keeps only the newest alive', async () => {
  const { newest, oldest } = buildsChain();
  assert.ok(await collected(oldest), 'the first map was collected while the newest is alive');
  assert.equal(buildKeysChangedBetween(newest, newest)?.size, 0);
});
