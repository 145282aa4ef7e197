// Read-only views of kiln/status and the desired state: distributions, the
// plan, checks, the audit trail.
import type { FastifyInstance } from 'fastify';
import { ENDPOINTS } from '../../../schema/api.ts';
import { NotFoundError } from '../../../schema/errors.ts';
import { readAudit } from '../audit-log.ts';
import { distributionViews } from '../distributions-view.ts';
import type { ServiceContext } from '../context.ts';
import type { RouteOf } from '../routes.ts';

export function stateRoutes(_app: FastifyInstance, ctx: ServiceContext, route: RouteOf): void {
  const distributions = async () => {
    const [{ state }, desired] = await Promise.all([ctx.status.observed(), ctx.status.desiredReconciled()]);
    return { desiredCommit: state.desiredCommit ?? null, distributions: distributionViews(desired?.distributions.values() ?? [], state, desired?.packages) };
  };
  route(ENDPOINTS.distributions, distributions);
  route(ENDPOINTS.distribution, async (req) => {
    const name = (req.params as { name: string }).name;
    const hit = (await distributions()).distributions.find((d) => d.name === name);
    if (!hit) throw new NotFoundError(`no distribution '${name}' in the reconciled desired state`);
    return hit;
  });

  route(ENDPOINTS.plan, async () => {
    const { plan, trust, statusCommit } = await ctx.status.plan();
    return { desiredCommit: plan.desiredCommit, statusCommit, trust: { trusted: trust.trusted, reason: trust.reason, ...(trust.signer ? { signer: trust.signer } : {}) }, actions: plan.actions, waiting: plan.waiting };
  });

  route(ENDPOINTS.checks, async () => {
    const { state } = await ctx.status.observed();
    return { checks: [...state.checks.values()].sort((a, b) => (a.at < b.at ? 1 : a.at > b.at ? -1 : 0)) };
  });
  route(ENDPOINTS.check, async (req) => {
    const commit = (req.params as { commit: string }).commit;
    const hit = (await ctx.status.observed()).state.checks.get(commit);
    if (!hit) throw new NotFoundError(`no check of ${commit} on kiln/status`);
    return hit;
  });

  route(ENDPOINTS.audit, async (req) => {
    const q = req.query as { limit?: number; cursor?: string };
    return readAudit(await ctx.status.gitDir(), { limit: q.limit ?? 50, cursor: q.cursor });
  });
}
