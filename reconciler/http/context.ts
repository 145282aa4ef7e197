// What route handlers read and act through, built once per server.
import type { Logger } from 'pino';
import type { LiveView } from '../pipeline/live-view.ts';
import type { Signer } from '../signing/signer.ts';
import type { StatusView } from './status-view.ts';
import { NotFoundError } from '../../schema/errors.ts';

export interface ServiceContext {
  status: StatusView;
  /** NATS: agents, logs, queues. Absent: those endpoints answer 503. */
  live?: LiveView;
  /** Signs status commits (retry). Absent: retry answers 503. */
  signer?: Signer;
  log: Logger;
  /** Wake the reconciler after a write (retry), if one runs in this process. */
  wake?(reason: string): void;
}

export class UnavailableError extends Error {
  readonly statusCode = 503;
  readonly code = 'KILN_UNAVAILABLE';
}

export function needLive(ctx: ServiceContext): LiveView {
  if (!ctx.live) throw new UnavailableError('this server has no NATS connection (start it with --nats)');
  return ctx.live;
}

/** The running builds: build key -> agent id (empty without NATS, or when NATS does not answer). */
export async function runningBuilds(ctx: ServiceContext): Promise<Map<string, string>> {
  const running = new Map<string, string>();
  const agents = ctx.live ? await ctx.live.agents().catch(() => []) : [];
  for (const a of agents) for (const k of a.running) running.set(k, a.id);
  return running;
}

export function notFound(what: string): NotFoundError {
  return new NotFoundError(what);
}
