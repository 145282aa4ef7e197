// The webhook receiver's HTTP edge: POST only, bodies capped at 1 MiB (413 as
// soon as the cap is passed, without reading the rest), the signature checked
// before anything is parsed (401, and nothing happens), replays answered and
// ignored (ids kept in the state dir: delivery-ids.ts). What a delivery asks
// for is handed to `handlers`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { WEBHOOK_MAX_BYTES } from '../../schema/forge.ts';
import { DeliveryIds } from './delivery-ids.ts';
import { actionOf, verifySignature, type WebhookAction } from './webhook-request.ts';

export interface WebhookHandlers {
  /** A push to `ref` (refs/heads/…): wake the reconciler if it is the tracked branch; returns whether it was. */
  onPush(ref: string, after: string): Promise<boolean>;
  /** A pull request's head to check; resolves once the check is durably queued. */
  onPullRequest(head: string, number: number | undefined): Promise<void>;
}

export interface WebhookServerOptions {
  /** host:port (port 0: any free port). */
  listen: string;
  secret: string;
  handlers: WebhookHandlers;
  log: Logger;
  maxBytes?: number;
  /** Where handled delivery ids are kept across restarts; absent: in memory only. */
  deliveriesFile?: string;
}

export interface WebhookServer {
  url: string;
  close(): Promise<void>;
}

type Body = { ok: true; text: string } | { ok: false };

/** The body as text, or `ok: false` once it passed `max` bytes (the rest is not read). */
function readBody(req: IncomingMessage, max: number): Promise<Body> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > max) return resolve({ ok: false });
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        req.removeAllListeners('data');
        req.pause();
        return resolve({ ok: false });
      }
      chunks.push(c);
    });
    req.on('end', () => resolve({ ok: true, text: Buffer.concat(chunks).toString('utf8') }));
    req.on('error', reject);
  });
}

function answer(res: ServerResponse, status: number, body: Record<string, unknown>, close = false): void {
  res.writeHead(status, { 'content-type': 'application/json', ...(close ? { connection: 'close' } : {}) });
  res.end(JSON.stringify(body) + '\n');
}

export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(\[[^\]]+\]|[^:]*):(\d{1,5})$/.exec(listen);
  if (!m || Number(m[2]) > 65535) throw new TypeError(`expected HOST:PORT, got '${listen}'`);
  return { host: m[1].replace(/^\[|\]$/g, '') || '0.0.0.0', port: Number(m[2]) };
}

export async function startWebhookServer(o: WebhookServerOptions): Promise<WebhookServer> {
  const log = o.log.child({ component: 'webhook' });
  const max = o.maxBytes ?? WEBHOOK_MAX_BYTES;
  const deliveries = await DeliveryIds.open(o.deliveriesFile);
  /** Deliveries being handled: a replay that arrives meanwhile is ignored too. */
  const handling = new Set<string>();

  /** Act on a verified delivery: the status and body to answer with. */
  async function act(a: WebhookAction): Promise<[number, Record<string, unknown>]> {
    if (a.kind === 'ping') return [200, { pong: true }];
    if (a.kind === 'ignored') return [202, { ignored: a.why }];
    if (a.kind === 'push') {
      const woke = await o.handlers.onPush(a.ref, a.after);
      log.info({ ref: a.ref, after: a.after, woke }, 'push webhook');
      return [202, woke ? { woke: true } : { ignored: `${a.ref} is not the tracked branch` }];
    }
    await o.handlers.onPullRequest(a.head, a.number);
    log.info({ head: a.head, pr: a.number }, 'pull_request webhook: check queued');
    return [202, { check: a.head }];
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== 'POST') return answer(res, 405, { error: 'POST a forge webhook here' });
    const body = await readBody(req, max);
    if (!body.ok) {
      log.warn({ limit: max }, 'webhook body too large: refused');
      return answer(res, 413, { error: `body larger than ${max} bytes` }, true);
    }
    if (!(await verifySignature(o.secret, body.text, req.headers))) {
      log.warn({ remote: req.socket.remoteAddress }, 'webhook with a missing or wrong signature: refused');
      return answer(res, 401, { error: 'missing or wrong signature (X-Hub-Signature-256, X-Gitea-Signature or X-Forgejo-Signature)' });
    }
    const verdict = actionOf(req.headers, body.text);
    if (!verdict.ok) {
      log.warn(verdict.message);
      return answer(res, verdict.status, { error: verdict.message });
    }
    const id = verdict.delivery;
    if (id && (deliveries.has(id) || handling.has(id))) {
      log.info({ delivery: id }, 'replayed webhook delivery ignored');
      return answer(res, 200, { ignored: 'replayed delivery' });
    }
    if (id) handling.add(id);
    try {
      const [status, reply] = await act(verdict.action);
      // Remembered once handled: a delivery that failed may be sent again (the handlers are idempotent).
      if (id) await deliveries.add(id);
      return answer(res, status, reply);
    } finally {
      if (id) handling.delete(id);
    }
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((e) => {
      log.error({ err: (e as Error).message }, 'webhook handling failed');
      if (!res.headersSent) answer(res, 500, { error: 'internal error' });
    });
  });
  const { host, port } = parseListen(o.listen);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}/`;
  log.info({ url }, 'webhook receiver listening');
  return {
    url,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }).then(() => deliveries.close()),
  };
}
