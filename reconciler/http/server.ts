// Starts the HTTP service (app.ts) on HOST:PORT; close() ends open streams too.
import type { FastifyInstance } from 'fastify';
import { buildApp, type AppOptions } from './app.ts';

export interface HttpServer {
  url: string;
  port: number;
  app: FastifyInstance;
  close(): Promise<void>;
}

export async function startHttpServer(opts: AppOptions & { host?: string; port?: number }): Promise<HttpServer> {
  const app = await buildApp(opts);
  const host = opts.host ?? '127.0.0.1';
  await app.listen({ host, port: opts.port ?? 0 });
  const addr = app.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  return {
    url,
    port,
    app,
    close: async () => {
      // Live log followers would hold close() open: end their connections.
      app.server.closeAllConnections();
      await app.close();
    },
  };
}
