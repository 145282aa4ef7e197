// A build's log: the stored one of a finished attempt, or the live one as
// Server-Sent Events following the NATS log subject (as `kiln logs -f`). The
// follower is tied to the HTTP connection: a client that goes away ends it, and
// with it the NATS subscription.
import { jetstream } from '@nats-io/jetstream';
import type { FastifyInstance } from 'fastify';
import { ENDPOINTS } from '../../../schema/api.ts';
import { NotFoundError } from '../../../schema/errors.ts';
import { finishedLog, followLog } from '../../pipeline/build-logs.ts';
import { needLive, type ServiceContext } from '../context.ts';
import type { RouteOf } from '../routes.ts';
import { namedEvent, SseLines } from '../sse-lines.ts';
import { SECURITY_HEADERS } from '../security-headers.ts';
import { findBuild } from './builds.ts';

const KEEPALIVE_MS = 15_000;

export function logRoutes(_app: FastifyInstance, ctx: ServiceContext, route: RouteOf): void {
  route(ENDPOINTS.buildLog, async (req, reply) => {
    const live = needLive(ctx);
    const record = await findBuild(ctx, (req.params as { key: string }).key);
    const attempt = (req.query as { attempt?: number }).attempt;
    const log = await finishedLog(live.objectStore, record.key, record, attempt ? Number(attempt) : undefined);
    if (!log) throw new NotFoundError(`no stored log for ${record.key.slice(0, 12)}${attempt ? ` attempt ${attempt}` : ''}${record.state === 'queued' ? ' yet: follow it live at ./log/stream' : ''}`);
    return reply.type('text/plain; charset=utf-8').send(Buffer.from(log.bytes));
  });

  route(ENDPOINTS.buildLogStream, async (req, reply) => {
    const live = needLive(ctx);
    const record = await findBuild(ctx, (req.params as { key: string }).key);
    const stop = new AbortController();
    req.raw.on('close', () => stop.abort());
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    res.write(`: following ${record.key}\nretry: 3000\n\n`);
    const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
    let lines = new SseLines();
    try {
      const end = await followLog(jetstream(live.nc), record.key, {
        signal: stop.signal,
        write: (chunk) => {
          const events = lines.push(chunk);
          if (events) res.write(events);
        },
        onAttempt: (a) => {
          res.write(lines.flush() + namedEvent('attempt', a));
          lines = new SseLines();
        },
      });
      if (!stop.signal.aborted) res.write(lines.flush() + namedEvent('end', end ?? 'unknown'));
    } catch (e) {
      if (!stop.signal.aborted) res.write(namedEvent('error', (e as Error).message));
    } finally {
      clearInterval(keepalive);
      res.end();
    }
  });
}
