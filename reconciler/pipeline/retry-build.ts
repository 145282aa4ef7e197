// Ask for another attempt of a failed build: one signed commit on kiln/status
// (compare-and-set, re-applied if a pass moved the branch meanwhile). Used by
// `kiln retry` and POST /api/v1/builds/:key/retry.
import type { Logger } from 'pino';
import type { GitCache } from '../git/tree.ts';
import type { Signer } from '../signing/signer.ts';
import { buildRecordFile } from '../status/records.ts';
import { recordPass } from '../status/writer.ts';
import { TRAILERS, type BuildRecord } from '../../schema/status.ts';
import { requestRetry } from '../records/build-records.ts';

export interface RetryOutcome {
  /** The record after the retry, or null when it was not failed (nothing to retry). */
  updated: BuildRecord | null;
  commit: string | null;
}

export async function retryBuild(opts: { dir: string; cache: GitCache; signer: Signer; key: string; now: Date; log?: Logger; by?: string }): Promise<RetryOutcome> {
  let updated: BuildRecord | null = null;
  const { commit } = await recordPass({
    dir: opts.dir,
    cache: opts.cache,
    signer: opts.signer,
    now: opts.now,
    log: opts.log,
    build: (observed) => {
      const current = observed.builds.get(opts.key);
      updated = current ? requestRetry(current, opts.now, opts.by ?? opts.signer.userId) : null;
      if (!updated) return null;
      return {
        files: new Map([buildRecordFile(updated)]),
        summary: `kiln: retry ${updated.inputs.package} ${updated.inputs.version} (${updated.inputs.arch}) on request`,
        trailers: { [TRAILERS.builds]: 1 },
      };
    },
  });
  return { updated, commit };
}
