// After a status commit, before anything is acked: push kiln/status to the
// remote with compare-and-set. A rejection means another writer moved it:
// fetch, check its head is signed by the release key, put our branch on it,
// re-apply this pass (the status writer's build() against the branch as it is
// now) and push again, with bounded, jittered backoff. An unreachable remote
// leaves the commit pending locally: the next pass pushes it.
import { RemotePushError, RemoteRejectedError } from '../../schema/errors.ts';
import { STATUS_REF } from '../../schema/status.ts';
import { compareAndSwapRef, readRef } from '../status/ref-cas.ts';
import { isAncestor, type Mirror } from './mirror.ts';

export interface PushStatusOptions {
  /** Record this pass's events again on the local branch as it is now. */
  rerecord: () => Promise<unknown>;
  /** Throws unless the commit is signed by the release key. */
  verifyStatus: (commit: string) => Promise<void>;
  /** Pushes tried before RemotePushError (default 8). */
  maxAttempts?: number;
  delay?: (attempt: number) => Promise<void>;
}

export interface PushStatusResult {
  /** The commit the remote holds now, or null when there was nothing to push. */
  pushed: string | null;
  attempts: number;
}

/** 100 ms doubling to a 3 s cap, 50-150 % jitter: writers that collided do not collide again in step. */
export const pushBackoffMs = (attempt: number, random: () => number) => Math.min(100 * 2 ** (attempt - 1), 3000) * (0.5 + random());
const defaultDelay = (attempt: number) => new Promise<void>((r) => setTimeout(r, pushBackoffMs(attempt, Math.random)));

export async function pushStatus(m: Mirror, o: PushStatusOptions): Promise<PushStatusResult> {
  const max = o.maxAttempts ?? 8;
  const delay = o.delay ?? defaultDelay;
  for (let attempt = 1; ; attempt++) {
    const local = await readRef(m.gitdir, STATUS_REF);
    const known = m.remote.status ?? null;
    if (local === null || local === known) return { pushed: null, attempts: attempt - 1 };
    try {
      await m.transport.push(STATUS_REF, known, local);
      m.remote.status = local;
      m.log.info({ commit: local, attempt }, 'pushed kiln/status');
      return { pushed: local, attempts: attempt };
    } catch (e) {
      if (!(e instanceof RemoteRejectedError)) throw e;
      if (attempt >= max) {
        throw new RemotePushError(`${m.transport.url}: kiln/status still moving after ${attempt} pushes; the commit stays pending for the next pass`, { attempts: attempt, local }, { cause: e });
      }
      m.log.info({ attempt, reason: e.message }, 'kiln/status moved on the remote; fetching it and re-applying this pass');
      await adoptRemoteHead(m, local, o);
      await delay(attempt);
    }
  }
}

/** Put the local branch on the remote's (verified) head and re-apply this pass there. */
async function adoptRemoteHead(m: Mirror, local: string, o: PushStatusOptions): Promise<void> {
  const fetched = (await m.transport.fetch([STATUS_REF])).get(STATUS_REF) ?? null;
  m.remote.status = fetched;
  if (fetched === null || fetched === local) return;
  // Someone already pushed our commit and built on it: nothing of ours is missing.
  if (await isAncestor(m, local, fetched)) {
    await o.verifyStatus(fetched);
    await compareAndSwapRef(m.gitdir, STATUS_REF, local, fetched);
    return;
  }
  if (await isAncestor(m, fetched, local)) return; // the remote went back to an ancestor: push again as is
  await o.verifyStatus(fetched);
  await compareAndSwapRef(m.gitdir, STATUS_REF, local, fetched);
  await o.rerecord();
}
