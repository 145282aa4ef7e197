// /agents: the registry, and drain requests.
import { hostname } from 'node:os';
import type { FastifyInstance } from 'fastify';
import { ENDPOINTS, type ApiAgent } from '../../../schema/api.ts';
import { NotFoundError } from '../../../schema/errors.ts';
import { agentState } from '../../pipeline/agent-state.ts';
import { needLive, type ServiceContext } from '../context.ts';
import type { RouteOf } from '../routes.ts';

export function agentRoutes(_app: FastifyInstance, ctx: ServiceContext, route: RouteOf): void {
  route(ENDPOINTS.agents, async () => {
    const rows = await needLive(ctx).agents();
    return { agents: rows.map((a): ApiAgent => ({ ...a, state: agentState(a) })) };
  });

  route(ENDPOINTS.drain, async (req) => {
    const id = (req.params as { id: string }).id;
    const by = `${req.auth?.name ?? 'api'} via ${hostname()} at ${new Date().toISOString()}`;
    if (!(await needLive(ctx).drain(id, by))) throw new NotFoundError(`no live agent '${id}'`);
    return { agent: id, drainRequested: true, by };
  });
}
