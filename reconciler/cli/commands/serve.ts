import { stat } from 'node:fs/promises';
import { UsageError } from '../../../schema/errors.ts';
import { startRepoServer } from '../../serve/repo-server.ts';
import { str, type Command } from '../command.ts';

/** host:port, [v6]:port or a bare port. */
export function parseListen(listen: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(listen) ?? /^()()(\d+)$/.exec(listen);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`--listen takes HOST:PORT (e.g. 127.0.0.1:8080), got '${listen}'`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

const command: Command = {
  path: ['serve'],
  summary: 'Serve the published apt and dnf repositories over HTTP.',
  description:
    'A static HTTP server (GET/HEAD, If-Modified-Since) for the REPOS directory that publishing writes.\n' +
    'Each distribution is at <url>/<dist>/: point apt at it with\n' +
    '  deb [signed-by=/path/<dist>-archive-keyring.asc] <url>/<dist> <suite> main\n' +
    'and the same line with deb-src for source packages (apt-get source). A dnf distribution is at the same\n' +
    'place, with <url>/<dist>/<dist>.repo for /etc/yum.repos.d/: its baseurl is this URL when kiln.yaml sets\n' +
    'repoUrl to it (or the distribution sets baseUrl), else file://.\n' +
    'Runs until interrupted.',
  options: {
    repos: { type: 'string', valueName: 'DIR', description: 'The published repositories root.' },
    listen: { type: 'string', valueName: 'ADDR', description: 'HOST:PORT to listen on.', default: '127.0.0.1:8080' },
  },
  examples: ['kiln serve --repos /var/lib/kiln/repos --listen 0.0.0.0:8080'],
  async run(args, ctx) {
    const repos = str(args, 'repos');
    if (!repos) throw new UsageError("missing --repos DIR\nRun 'kiln serve --help' for usage.");
    const st = await stat(repos).catch(() => undefined);
    if (!st?.isDirectory()) throw new UsageError(`--repos ${repos}: not a directory`);
    const { host, port } = parseListen(str(args, 'listen') ?? '127.0.0.1:8080');
    const server = await startRepoServer({ root: repos, host, port, log: ctx.log });
    if (!ctx.json) ctx.out.write(`serving ${repos} at ${server.url} (Ctrl-C to stop)\n`);
    await new Promise<void>((resolve) => {
      if (ctx.signal.aborted) return resolve();
      ctx.signal.addEventListener('abort', () => resolve(), { once: true });
    });
    await server.close();
    return { data: { url: server.url, repos } };
  },
};
export default command;
