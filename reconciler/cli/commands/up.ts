// kiln up [DIR]: everything on one machine (see reconciler/up/run-up.ts).
import { UsageError } from '../../../schema/errors.ts';
import { identityProblem } from '../../../schema/nats.ts';
import { formatPassLine } from '../../pipeline/progress.ts';
import { runUp, type UpInfo } from '../../up/run-up.ts';
import { flag, num, str, type Command } from '../command.ts';
import { SIGNING_KEY_OPTION } from '../options.ts';
import { parseListen } from './serve.ts';

function readyText(i: UpInfo): string {
  return [
    ...i.created.map((c) => `created ${c}`),
    `Kiln is up (Ctrl-C stops it; the agents finish their builds first).`,
    `  dashboard   ${i.dashboard}`,
    `  API         ${i.api}`,
    `  metrics     ${i.metrics}`,
    `  repos       ${i.repos}<distribution>/ (apt and dnf repositories, image signatures)`,
    `  NATS        ${i.natsUrl}`,
    `  state       ${i.stateDir} (JetStream store in nats/, logs in logs/)`,
    `  metadata    ${i.repoDir} (commit packages here; kiln/status is its status branch)`,
    `  release key ${i.signingKeyFile}`,
    `  API tokens  ${i.tokensFile} (kiln tokens add --tokens ${i.tokensFile} --name NAME --role operator)`,
    ...i.agents.map((a) => `  agent       ${a.id} (pool ${a.pool}, log ${a.log})`),
    ...i.registries.map((r) => `  registry    ${r}${r === i.candidateRegistry ? ' (candidate: agents push here)' : ''}, signatures at ${i.repos}<distribution>/sigstore/`),
    ...(i.registryAuth ? [`  registry credentials (this run's; skopeo --authfile FILE) ${i.registryAuth.reconciler} (every registry)${i.registryAuth.agent ? `, agents: ${i.registryAuth.agent} (candidate only)` : ''}`] : []),
    '',
  ].join('\n');
}

function poolValues(v: unknown, arch: string): string[] {
  const pools = Array.isArray(v) ? v.map(String) : typeof v === 'string' ? [v] : [];
  for (const p of pools) {
    const problem = identityProblem(p, arch);
    if (problem) throw new UsageError(`--pool/--arch: ${problem}`);
  }
  return [...new Set(pools)];
}

const command: Command = {
  path: ['up'],
  summary: 'Run everything on one machine: nats-server, the reconciler, an agent per pool, the dashboard and API.',
  description:
    'Starts nats-server (JetStream, store under DIR/nats) as a child, the reconciler in watch mode, one\n' +
    'local build agent per pool (every pool of kiln.yaml that builds for --arch, or each --pool), and the HTTP server (dashboard at /, API at /api/v1/, /metrics, apt repositories at\n' +
    '/repos/) on one port. On first start, without --signing-key it generates the release key (DIR/keys)\n' +
    'and without --repo it creates the example metadata repo (DIR/metadata). A second `kiln up DIR`\n' +
    'resumes from the same state. Ctrl-C stops everything: the agents drain first. Registry distributions\n' +
    'on 127.0.0.1:PORT get a local docker-registry each (storage under DIR/registries), with credentials\n' +
    'made anew at each start (DIR/registries/auth/: the agents\' open the candidate only); base images named\n' +
    'by tag in one of them are seeded from the local Docker engine. Needs nats-server, git and a running\n' +
    'Docker engine, and for registries docker-registry and skopeo (each missing one is named with the\n' +
    'command that installs it).',
  options: {
    repo: { type: 'string', valueName: 'DIR', description: 'The metadata repo (default: DIR/metadata, the example, created on first start).' },
    'signing-key': { ...SIGNING_KEY_OPTION, description: 'Armored private release key (default: $KILN_SIGNING_KEY_FILE, else DIR/keys/kiln-release.key.asc, generated on first start).' },
    listen: { type: 'string', valueName: 'ADDR', description: 'HOST:PORT of the dashboard, API, metrics and repos.', default: '127.0.0.1:8080' },
    'nats-port': { type: 'string', valueName: 'PORT', description: 'Port of the local nats-server (0: any free port).', default: '4222' },
    pool: { type: 'string', valueName: 'POOL', multiple: true, description: "A local agent's pool (repeatable; default: every pool kiln.yaml declares for --arch)." },
    arch: { type: 'string', valueName: 'ARCH', description: 'Architecture of the local agents.', default: 'amd64' },
    concurrency: { type: 'string', valueName: 'N', description: 'Builds each local agent runs at the same time.', default: '1' },
    interval: { type: 'string', valueName: 'S', description: 'A full reconcile pass at least every S seconds.', default: '60' },
    tokens: { type: 'string', valueName: 'FILE', description: 'API token file (default: DIR/tokens.json).' },
    private: { type: 'boolean', description: 'Read endpoints need a token too (default: reads are public).' },
  },
  positionals: [{ name: 'DIR', description: 'State directory (default: .kiln/up).' }],
  examples: ['kiln up', 'kiln up /var/lib/kiln --listen 0.0.0.0:8080 --repo ./metadata --signing-key release.key.asc'],
  async run(args, ctx) {
    const { host, port } = parseListen(str(args, 'listen') ?? '127.0.0.1:8080');
    const natsPort = num(args, 'nats-port') ?? 4222;
    const concurrency = num(args, 'concurrency') ?? 1;
    const interval = num(args, 'interval') ?? 60;
    if (!Number.isInteger(natsPort) || natsPort < 0 || natsPort > 65535) throw new UsageError(`--nats-port takes a port number, got ${natsPort}`);
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency takes a whole number >= 1, got ${concurrency}`);
    if (!(interval > 0)) throw new UsageError(`--interval takes a positive number of seconds, got ${interval}`);
    let passes = 0;
    const { summary, info } = await runUp(
      {
        dir: args.positionals[0] ?? '.kiln/up',
        repoDir: str(args, 'repo'),
        signingKeyFile: str(args, 'signing-key') ?? ctx.env.signingKeyFile,
        passphrase: ctx.env.signingPassphrase,
        host,
        port,
        natsPort,
        pools: poolValues(args.values.pool, str(args, 'arch') ?? 'amd64'),
        arch: str(args, 'arch') ?? 'amd64',
        concurrency,
        intervalSeconds: interval,
        publicRead: !flag(args, 'private'),
        tokensFile: str(args, 'tokens'),
      },
      {
        log: ctx.log,
        signal: ctx.signal,
        onReady: (i) => ctx.out.write(ctx.json ? JSON.stringify({ ready: i }) + '\n' : readyText(i)),
        onPass: (report, reason, counts) => {
          passes++;
          if (report.noop && reason === 'interval') return;
          if (!ctx.json) ctx.out.write(formatPassLine({ n: passes, reason, ...report }, counts) + '\n');
        },
      },
    );
    return { data: { ...info, ...summary }, human: `stopped after ${summary.passes} pass(es), ${summary.failedPasses} failed; state kept in ${info.stateDir}` };
  },
};
export default command;
