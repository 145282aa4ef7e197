// Dispatch: one BuildJob per build action onto its pool's work queue, with
// message id jobMsgId(key, attempt) so JetStream deduplicates re-dispatches.
import type { JetStreamClient } from '@nats-io/jetstream';
import type { Logger } from 'pino';
import type { BuildAction } from '../model.ts';
import type { AptSource, BuildJob } from '../../schema/messages.ts';
import { jobMsgId, SUBJECTS } from '../../schema/nats.ts';
import { assertValid } from '../../schema/validate.ts';
import pMap from 'p-map';

/** The wire message for one action (validated: a bad job is our bug, caught before it leaves). */
export function toBuildJob(action: BuildAction, desiredCommit: string, now: Date, buildFrom?: AptSource): BuildJob {
  return assertValid('buildJob', {
    v: 1,
    key: action.key,
    attempt: action.attempt,
    inputs: action.inputs,
    pool: action.pool,
    limits: action.limits,
    dispatchedAt: now.toISOString(),
    desiredCommit,
    ...(buildFrom ? { buildFrom } : {}),
  });
}

export interface DispatchOptions {
  desiredCommit: string;
  now: Date;
  /** Publishes awaiting their PubAck at once (default 256). */
  maxInFlight?: number;
  log: Logger;
  /** Called as each job gets its PubAck (new or duplicate): it is on the queue, even if a later publish fails. */
  onQueued?: (action: BuildAction) => void;
  /** The apt source of a buildFrom distribution (undefined: the job installs from the base archive only). */
  aptSource?: (distribution: string) => AptSource | undefined;
}

export interface DispatchReport {
  published: number;
  /** Already in the stream's duplicate window (dispatched before by us or a peer). */
  duplicates: number;
}

const encoder = new TextEncoder();

/** Publish every action's job; resolves once each has its PubAck, rejects on the first failure. */
export async function dispatchBuilds(js: JetStreamClient, actions: BuildAction[], opts: DispatchOptions): Promise<DispatchReport> {
  const log = opts.log.child({ component: 'dispatch' });
  const jobs = actions.map((a) => ({ action: a, bytes: encoder.encode(JSON.stringify(toBuildJob(a, opts.desiredCommit, opts.now, a.buildFrom ? opts.aptSource?.(a.buildFrom) : undefined))) }));
  const limit = Math.max(1, opts.maxInFlight ?? 256);
  const report: DispatchReport = { published: 0, duplicates: 0 };
  // At most `limit` publishes await their PubAck at once.
  await pMap(
    jobs,
    async ({ action, bytes }) => {
      const ack = await js.publish(SUBJECTS.build(action.pool, action.arch), bytes, { msgID: jobMsgId(action.key, action.attempt) });
      if (ack.duplicate) report.duplicates++;
      else report.published++;
      opts.onQueued?.(action);
      log.debug({ buildKey: action.key, attempt: action.attempt, pool: action.pool, arch: action.arch, seq: ack.seq, duplicate: ack.duplicate }, 'dispatched');
    },
    { concurrency: limit },
  );
  if (jobs.length) log.info({ ...report }, `dispatched ${report.published} build(s), ${report.duplicates} duplicate(s)`);
  return report;
}
