// /builds: list, one build, retry.
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { ENDPOINTS, type BuildDetail, type BuildsQuery } from '../../../schema/api.ts';
import type { BuildRecord } from '../../../schema/status.ts';
import { findByPrefix } from '../../pipeline/build-list.ts';
import { retryBuild } from '../../pipeline/retry-build.ts';
import { sendError } from '../api-error.ts';
import { pageOf, summarize } from '../build-summary.ts';
import { runningBuilds, UnavailableError, type ServiceContext } from '../context.ts';
import type { RouteOf } from '../routes.ts';

export async function findBuild(ctx: ServiceContext, key: string): Promise<BuildRecord> {
  const { state } = await ctx.status.observed();
  return state.builds.get(key) ?? findByPrefix(state.builds.values(), key);
}

export function buildRoutes(app: FastifyInstance, ctx: ServiceContext, route: RouteOf): void {
  route(ENDPOINTS.builds, async (req) => {
    const [view, running] = await Promise.all([ctx.status.observed(), runningBuilds(ctx)]);
    const page = pageOf(view.sorted, view.position, req.query as BuildsQuery, running, Date.now());
    return { statusCommit: view.state.statusCommit ?? null, ...page };
  });

  route(ENDPOINTS.build, async (req) => {
    const record = await findBuild(ctx, (req.params as { key: string }).key);
    const running = await runningBuilds(ctx);
    const signed = await ctx.status.signedDigests((record.artifacts ?? []).map((a) => a.sha256));
    const body: BuildDetail = {
      build: summarize(record, running.get(record.key), Date.now()),
      record,
      artifacts: (record.artifacts ?? []).map((a) => ({ name: a.name, sha256: a.sha256, size: a.size, signed: signed.has(a.sha256) })),
    };
    return body;
  });

  route(ENDPOINTS.retry, async (req, reply) => {
    if (!ctx.signer) throw new UnavailableError('this server holds no signing key: retry with `kiln retry` where the reconciler runs');
    const record = await findBuild(ctx, (req.params as { key: string }).key);
    const by = `${req.auth?.name ?? 'api'} via ${hostname()}`;
    const { updated, commit } = await retryBuild({ dir: ctx.status.repoDir, cache: {}, signer: ctx.signer, key: record.key, now: new Date(), log: ctx.log, by });
    await ctx.status.statusMoved();
    if (!commit || !updated) return sendError(reply, 409, 'KILN_NOT_RETRYABLE', `build ${record.key.slice(0, 12)} is ${record.state}${record.failure?.retryable ? ' and already retryable' : ''}: nothing to retry`);
    ctx.wake?.('retry requested');
    return { key: record.key, retried: true, state: updated.state, statusCommit: commit };
  });
}

