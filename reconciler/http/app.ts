// The HTTP service on one port: the JSON API (/api/v1/), the dashboard (/ and
// /ui/), Prometheus metrics (/metrics) and the published apt repositories
// (/repos/<dist>/, by the repo server's rules). Built without listening, so
// tests can also inject requests.
import type { RegistryAuth } from '../../oci/registry-auth.ts';
import { realpath } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import { Ajv2020 } from 'ajv/dist/2020.js';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { renderMetrics, type Registry } from '../../observability/metrics-registry.ts';
import type { LiveView } from '../pipeline/live-view.ts';
import { serveFile } from '../serve/repo-server.ts';
import type { Signer } from '../signing/signer.ts';
import { errorHandler, sendError } from './api-error.ts';
import { Authorizer } from './auth.ts';
import type { ServiceContext } from './context.ts';
import { routeRegistrar } from './routes.ts';
import { agentRoutes } from './routes/agents.ts';
import { buildRoutes } from './routes/builds.ts';
import { logRoutes } from './routes/logs.ts';
import { stateRoutes } from './routes/state.ts';
import { SECURITY_HEADERS } from './security-headers.ts';
import { StatusView } from './status-view.ts';

export const DASHBOARD_DIR = join(dirname(fileURLToPath(import.meta.url)), 'dashboard');

export interface AppOptions {
  /** The metadata repo holding kiln/status. */
  repoDir: string;
  /** The reconciler's registry credentials: the plan shown resolves base image tags with them. */
  registryAuth?: RegistryAuth;
  /** Published repositories, served at /repos/. */
  reposDir?: string;
  live?: LiveView;
  signer?: Signer;
  /** Bearer tokens (`kiln tokens`); without it only public reads work. */
  tokensFile?: string;
  /** Read endpoints without a token (default true). */
  publicRead?: boolean;
  metrics?: Registry;
  log: Logger;
  wake?(reason: string): void;
}

export async function buildApp(opts: AppOptions): Promise<FastifyInstance> {
  const log = opts.log.child({ component: 'http' });
  const app: FastifyInstance = Fastify({ loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: { ignoreTrailingSlash: true },
    return503OnClosing: true,
  });
  // The project's ajv (draft 2020-12, the dialect of schema/); query strings arrive as text.
  const ajv = new Ajv2020({ coerceTypes: true, useDefaults: true, allErrors: false, strict: false });
  app.setValidatorCompiler(({ schema }) => ajv.compile(schema));
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((req, reply) => sendError(reply, 404, 'KILN_NOT_FOUND', `no route ${req.method} ${req.url.split('?')[0]}`));
  app.addHook('onSend', async (_req, reply) => {
    reply.headers(SECURITY_HEADERS);
  });

  const ctx: ServiceContext = { status: new StatusView(opts.repoDir, log, undefined, opts.registryAuth), live: opts.live, signer: opts.signer, log, wake: opts.wake };
  app.addHook('onClose', () => ctx.status.close());
  const route = routeRegistrar(app, new Authorizer(opts.tokensFile, opts.publicRead ?? true));
  buildRoutes(app, ctx, route);
  logRoutes(app, ctx, route);
  agentRoutes(app, ctx, route);
  stateRoutes(app, ctx, route);

  app.get('/metrics', async (_req, reply) => {
    if (!opts.metrics) return sendError(reply, 404, 'KILN_NOT_FOUND', 'metrics are not kept by this server');
    const { contentType, body } = await renderMetrics(opts.metrics);
    return reply.type(contentType).send(body);
  });

  if (opts.reposDir) {
    const root = await realpath(opts.reposDir);
    const repos = async (req: FastifyRequest, reply: FastifyReply) => {
      reply.hijack();
      for (const [k, v] of Object.entries(SECURITY_HEADERS)) reply.raw.setHeader(k, v);
      await serveFile(root, req.raw, reply.raw, req.raw.url!.slice('/repos'.length) || '/');
    };
    app.route({ method: ['GET', 'HEAD'], url: '/repos/*', handler: repos });
  }

  await app.register(fastifyStatic, { root: DASHBOARD_DIR, prefix: '/ui/', index: false, wildcard: true, decorateReply: true, cacheControl: true, maxAge: 0 });
  app.get('/', (_req, reply) => reply.type('text/html; charset=utf-8').sendFile('index.html'));
  return app;
}
