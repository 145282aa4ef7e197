// The pass's one seam to a remote metadata repo: fetch before the pass, push
// kiln/status after the status commit and before any ack. Without a remote
// (a local --repo DIR) the pass never calls it.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { RemoteUnreachableError } from '../../schema/errors.ts';
import { readRef } from '../status/ref-cas.ts';
import type { Signer } from '../signing/signer.ts';
import type { Mirror } from './mirror.ts';
import { pushStatus } from './push-status.ts';
import { pushTrustRoot, syncMirror, type SyncReport } from './sync.ts';

export interface RemoteStep {
  /**
   * Fetch the tracked branch, kiln/status and the trust root (at most every
   * `minFetchIntervalMs`, unless asked for with fetchNow). An unreachable remote
   * is logged: the pass goes on with the mirror as last fetched.
   */
  beforePass(): Promise<SyncReport | undefined>;
  /** The next beforePass fetches whatever the interval (a webhook said the remote moved). */
  fetchNow(): void;
  /**
   * Push kiln/status (and a newly accepted trust root). `record(previous)` is the
   * pass's status writer: called again when another writer moved the remote branch.
   * Throws when the push did not land, so the caller acks nothing.
   */
  afterRecord<R>(recorded: R, record: () => Promise<R>): Promise<R>;
}

/** Whether the mirror holds the branch its HEAD names (false until the first successful fetch). */
async function hasTrackedBranch(m: Mirror): Promise<boolean> {
  const head = /^ref: (\S+)/.exec(await readFile(join(m.gitdir, 'HEAD'), 'utf8').catch(() => ''))?.[1];
  return head !== undefined && (await readRef(m.gitdir, head)) !== null;
}

export interface RemoteStepOptions {
  /** Passes closer together than this (a burst of results) reuse the last fetch. Default 0: fetch before every pass. */
  minFetchIntervalMs?: number;
  now?: () => number;
}

export function remoteStep(m: Mirror, verifyStatus: (commit: string) => Promise<void>, signer?: Signer, opts: RemoteStepOptions = {}): RemoteStep {
  const now = opts.now ?? Date.now;
  let fetchedAt: number | undefined;
  let forced = false;
  return {
    fetchNow() {
      forced = true;
    },
    async beforePass() {
      if (!forced && fetchedAt !== undefined && now() - fetchedAt < (opts.minFetchIntervalMs ?? 0)) return undefined;
      forced = false;
      try {
        const report = await syncMirror(m, { verifyStatus, signer });
        fetchedAt = now();
        return report;
      } catch (e) {
        if (!(e instanceof RemoteUnreachableError)) throw e;
        // Never fetched: there is nothing local to reconcile, so the pass fails (and is retried with backoff).
        if (!(await hasTrackedBranch(m))) throw e;
        m.log.warn({ err: e.message }, 'remote unreachable: reconciling the mirror as last fetched; kiln/status is pushed once it answers');
        return undefined;
      }
    },
    async afterRecord(recorded, record) {
      let latest = recorded;
      await pushStatus(m, {
        verifyStatus,
        rerecord: async () => {
          latest = await record();
        },
      });
      await pushTrustRoot(m);
      return latest;
    },
  };
}
