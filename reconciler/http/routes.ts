// Registers one endpoint of schema/api.ts ENDPOINTS: its URL under /api/v1, its
// schemas (validation and serialisation), and the role check that runs before
// the handler (so a refused request does nothing).
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { API_PREFIX, type Endpoint, type TokenEntry } from '../../schema/api.ts';
import { apiErrorSchema } from '../../schema/api.ts';
import { sendError } from './api-error.ts';
import type { Authorizer } from './auth.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The token the request was authorised with, if it presented one. */
    auth?: TokenEntry;
  }
}

export type Handler = (req: FastifyRequest, reply: FastifyReply) => Promise<unknown>;
export type RouteOf = (endpoint: Endpoint, handler: Handler) => void;

export function routeRegistrar(app: FastifyInstance, auth: Authorizer): RouteOf {
  return (endpoint, handler) => {
    const response: Record<string, object> = { '4xx': apiErrorSchema, '5xx': apiErrorSchema };
    if (endpoint.response) response['200'] = endpoint.response;
    app.route({
      method: endpoint.method,
      url: API_PREFIX + endpoint.url,
      schema: {
        ...(endpoint.querystring ? { querystring: endpoint.querystring } : {}),
        ...(endpoint.params ? { params: endpoint.params } : {}),
        response,
      },
      onRequest: async (req, reply) => {
        const verdict = await auth.check(req.headers.authorization, endpoint.role);
        if (!verdict.ok) {
          if (verdict.status === 401) reply.header('WWW-Authenticate', 'Bearer realm="kiln"');
          return sendError(reply, verdict.status, verdict.code, verdict.message);
        }
        req.auth = verdict.token;
      },
      handler,
    });
  };
}
