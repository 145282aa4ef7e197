// A small static HTTP server for published repositories: GET and HEAD, correct
// Content-Length, Last-Modified / If-Modified-Since. Regular files only, nothing
// outside the root and nothing hidden, judged on the path after symlinks are
// resolved. apt is its main client.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { constants } from 'node:fs';
import { open, realpath, stat } from 'node:fs/promises';
import { sep } from 'node:path';
import type { Logger } from 'pino';
import { cacheControl, contentType, notModified, resolvedPathAllowed, resolveRequestPath } from './request-path.ts';

export interface RepoServerOptions {
  root: string;
  host?: string;
  /** 0: any free port. */
  port?: number;
  log?: Logger;
}

export interface RepoServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

function fail(res: ServerResponse, status: number, message: string): void {
  const body = message + '\n';
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** Serve the file `urlPath` names under `root` (a realpath), by the rules of request-path.ts; returns the status sent. */
export async function serveFile(root: string, req: IncomingMessage, res: ServerResponse, urlPath = req.url ?? '/'): Promise<number> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('Allow', 'GET, HEAD');
    fail(res, 405, 'method not allowed');
    return 405;
  }
  const verdict = resolveRequestPath(urlPath);
  if (!verdict.ok) {
    fail(res, verdict.status, verdict.status === 404 ? 'not found' : verdict.reason);
    return verdict.status;
  }
  // Resolved first, then judged: a link may lead out of the root, to a hidden file, or to
  // something that is not a regular file (a FIFO would block the open, and with it the server).
  const real = await realpath(`${root}/${verdict.rel}`).catch(() => undefined);
  const regular = real !== undefined && resolvedPathAllowed(root, real, sep) && (await stat(real).catch(() => undefined))?.isFile();
  // O_NONBLOCK: should a FIFO be swapped in after the check, the open still returns at once.
  const fh = regular ? await open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => undefined) : undefined;
  if (!fh) {
    fail(res, 404, 'not found');
    return 404;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      fail(res, 404, 'not found');
      return 404;
    }
    const headers = { 'Last-Modified': st.mtime.toUTCString(), 'Content-Type': contentType(verdict.rel), 'Cache-Control': cacheControl(verdict.rel) };
    if (notModified(req.headers['if-modified-since'], st.mtimeMs)) {
      res.writeHead(304, headers);
      res.end();
      return 304;
    }
    res.writeHead(200, { ...headers, 'Content-Length': st.size });
    if (req.method === 'HEAD') {
      res.end();
      return 200;
    }
    // The open handle keeps the bytes of this version even if a publish renames a new file over it.
    await new Promise<void>((resolve, reject) => {
      const stream = fh.createReadStream({ start: 0, end: Math.max(0, st.size - 1), autoClose: false });
      if (st.size === 0) {
        stream.destroy();
        res.end();
        return resolve();
      }
      stream.on('error', reject);
      res.on('close', () => {
        stream.destroy();
        resolve();
      });
      stream.pipe(res);
    });
    return 200;
  } finally {
    await fh.close();
  }
}

export async function startRepoServer(opts: RepoServerOptions): Promise<RepoServer> {
  const root = await realpath(opts.root);
  const log = opts.log?.child({ component: 'repo-server' });
  const server = createServer((req, res) => {
    const started = performance.now();
    serveFile(root, req, res).then(
      (status) => log?.debug({ method: req.method, url: req.url, status, ms: Math.round(performance.now() - started) }, 'request'),
      (e: Error) => {
        log?.error({ err: e, url: req.url }, 'request failed');
        if (!res.headersSent) fail(res, 500, 'internal error');
        else res.destroy();
      },
    );
  });
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  log?.info({ url, root }, 'serving repositories');
  return {
    url,
    port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
