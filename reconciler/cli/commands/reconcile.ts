// kiln reconcile: run reconcile passes, once or continuously.
import { hostname } from 'node:os';
import type { PassReport } from '../../pass.ts';
import { buildCounts, formatPassLine } from '../../pipeline/progress.ts';
import { openReconciler } from '../../reconciler-setup.ts';
import { reconcileOnce, watch } from '../../watch.ts';
import { UsageError } from '../../../schema/errors.ts';
import { replicasProblem } from '../../nats/replicas.ts';
import { flag, num, str, type Command, type ParsedArgs } from '../command.ts';
import { readCredentials } from '../../broker/credentials.ts';
import { REGISTRY_HOST_PATTERN } from '../../../schema/metadata.ts';
import { readRegistryAuth } from '../registry-auth.ts';
import { SIGNING_KEY_OPTION, signingKeySource } from '../options.ts';
import { openRepoArg, REMOTE_OPTIONS, urlRepoOption } from '../repo-arg.ts';
import { servedReposUrl } from '../../serve/repo-url.ts';
import { parseListen } from './serve.ts';
import { readSecretFile, startReceiver, type WebhookSettings } from '../../forge/cli-wiring.ts';
import { parseListen as parseWebhookListen } from '../../forge/webhook-server.ts';

async function webhookSettings(args: ParsedArgs, watching: boolean): Promise<WebhookSettings | undefined> {
  const listen = str(args, 'webhook-listen');
  if (!listen) {
    if (str(args, 'webhook-secret-file')) throw new UsageError('--webhook-secret-file needs --webhook-listen');
    return undefined;
  }
  if (!watching) throw new UsageError('--webhook-listen needs --watch (webhooks wake the watch loop)');
  try {
    parseWebhookListen(listen);
  } catch (e) {
    throw new UsageError(`--webhook-listen: ${(e as Error).message}`);
  }
  const secret = await readSecretFile(str(args, 'webhook-secret-file'), '--webhook-secret-file');
  if (!secret) throw new UsageError('--webhook-listen needs --webhook-secret-file (the secret the forge signs deliveries with)');
  return { listen, secret };
}

function passData(n: number, reason: string, r: PassReport) {
  const { plan, trust: _t, ...rest } = r;
  return { n, reason, ...rest, actions: plan?.actions.map((a) => ({ kind: a.kind, reason: a.reason, message: a.message })) ?? [], waiting: plan?.waiting ?? [] };
}

const command: Command = {
  path: ['reconcile'],
  summary: 'Converge: build what is missing, publish what is desired, record it on kiln/status.',
  description:
    'Runs reconcile passes: read the desired state (HEAD of the metadata repo) and the observed state\n' +
    '(kiln/status), plan, dispatch builds to the agents over NATS, collect and verify their results,\n' +
    'publish releases, and record everything in one signed status commit per pass.\n' +
    '--once runs a single pass. --watch keeps running: a pass on every new commit (seen within 2 s),\n' +
    'whenever results arrive, and every --interval seconds. Only one reconciler runs passes at a time\n' +
    '(a lease in NATS KV); a second one waits. Stop with Ctrl-C: the pass in progress finishes first.\n' +
    'With a forge token (--forge-token-file or KILN_FORGE_TOKEN) every desired commit gets a kiln/reconcile\n' +
    "commit status on the forge kiln.yaml's forge: names (pending, then one final state), sent from an\n" +
    'outbox on kiln/status. --webhook-listen wakes the loop on a push to the tracked branch and posts\n' +
    'kiln/check on pull-request heads; polling stays the fallback.',
  options: {
    repo: urlRepoOption('The metadata repo (with a URL, kiln/status is pushed back there)'),
    ...REMOTE_OPTIONS,
    nats: { type: 'string', valueName: 'URL', description: 'NATS server, or a cluster\'s servers comma-separated (default: $KILN_NATS_URL). Without it nothing is built.' },
    replicas: { type: 'string', valueName: 'N', description: 'Copies JetStream keeps of every Kiln stream and bucket (default: 3 on a cluster of three or more servers, else 1).' },
    'nats-credentials': { type: 'string', valueName: 'FILE', description: 'Broker credentials from `kiln nats-config` (default: $KILN_NATS_CREDENTIALS).' },
    once: { type: 'boolean', description: 'Run one pass and exit (the default).' },
    watch: { type: 'boolean', description: 'Keep reconciling until stopped.' },
    interval: { type: 'string', valueName: 'S', description: 'Watch mode: a full pass at least every S seconds.', default: '60' },
    'signing-key': SIGNING_KEY_OPTION,
    repos: { type: 'string', valueName: 'DIR', description: 'Where published repositories live. Without it nothing is published.' },
    artifacts: { type: 'string', valueName: 'DIR', description: 'Local artifact cache (default: <gitdir>/kiln/artifacts).' },
    'candidate-registry': { type: 'string', valueName: 'HOST', description: "The registry `kiln agent --candidate-registry` pushes `format: oci` builds to (HOST[:PORT]); an image reported anywhere else is refused. Without it no oci build is recorded as succeeded." },
    'registry-auth': { type: 'string', valueName: 'FILE', description: 'Registry credentials, a containers-auth.json as `skopeo login --authfile FILE HOST` writes it, for every registry the reconciler reaches: the candidate (read) and production (read and write). Default: anonymous' },
    // HTTP service (reconciler/http/): API, dashboard, /metrics and the repos, in this process.
    listen: { type: 'string', valueName: 'ADDR', description: 'Watch mode: serve the dashboard, API (/api/v1/), /metrics and --repos (/repos/) on HOST:PORT.' },
    tokens: { type: 'string', valueName: 'FILE', description: 'With --listen: the API token file (`kiln tokens`).' },
    private: { type: 'boolean', description: 'With --listen: read endpoints need a token too.' },
    'forge-token-file': { type: 'string', valueName: 'FILE', description: "Token for the forge's commit-status API (default: $KILN_FORGE_TOKEN); the forge is kiln.yaml's forge:." },
    'webhook-listen': { type: 'string', valueName: 'ADDR', description: 'Watch mode: receive forge webhooks (push, pull_request) on HOST:PORT.' },
    'webhook-secret-file': { type: 'string', valueName: 'FILE', description: 'The webhook secret (HMAC-SHA256 signatures); required with --webhook-listen.' },
  },
  examples: [
    'kiln reconcile --repo ./metadata --nats nats://127.0.0.1:4222 --once',
    'kiln reconcile --watch --interval 30 --repos /srv/kiln/repos --signing-key kiln.key',
    'kiln reconcile --watch --forge-token-file /etc/kiln/forge-token --webhook-listen 0.0.0.0:8081 --webhook-secret-file /etc/kiln/webhook-secret',
  ],
  async run(args, ctx) {
    if (flag(args, 'once') && flag(args, 'watch')) throw new UsageError('--once and --watch exclude each other');
    const interval = num(args, 'interval') ?? 60;
    if (!(interval > 0)) throw new UsageError(`--interval takes a positive number of seconds, got ${interval}`);
    const replicas = num(args, 'replicas');
    const replicasWrong = replicas === undefined ? undefined : replicasProblem(replicas);
    if (replicasWrong) throw new UsageError(`--replicas: ${replicasWrong}`);
    const listen = str(args, 'listen');
    if (listen && !flag(args, 'watch')) throw new UsageError('--listen needs --watch');
    // The HTTP service (Fastify, prom-client: ≈ 250 modules) is loaded only when asked for.
    const at = listen ? parseListen(listen) : undefined;
    const service = at ? await import('../../http/reconciler-service.ts').then((m) => ({ at, metrics: m.serviceMetrics(), serve: m.serveReconciler })) : undefined;
    // A URL is mirrored; the reconciler fetches it before each pass itself.
    const repo = await openRepoArg(args, ctx, { sync: false });
    const webhook = await webhookSettings(args, flag(args, 'watch'));
    const forgeToken = await readSecretFile(str(args, 'forge-token-file'), '--forge-token-file') ?? ctx.env.forgeToken;
    const credsFile = str(args, 'nats-credentials') ?? ctx.env.natsCredentials;
    const candidateRegistry = str(args, 'candidate-registry');
    if (candidateRegistry !== undefined && !new RegExp(REGISTRY_HOST_PATTERN).test(candidateRegistry)) throw new UsageError(`--candidate-registry takes HOST[:PORT], got '${candidateRegistry}'`);
    const authFile = str(args, 'registry-auth');
    const registryAuth = authFile === undefined ? undefined : await readRegistryAuth(authFile);
    const rec = await openReconciler({
      repoDir: repo.dir,
      remote: repo.mirror,
      // Watch mode: a burst of result-driven passes shares one fetch; new commits are fetched at least every 2 s of passes.
      remoteFetchIntervalMs: flag(args, 'watch') ? 2000 : 0,
      natsUrl: str(args, 'nats') ?? ctx.env.natsUrl,
      natsCredentials: credsFile ? await readCredentials(credsFile) : undefined,
      signingKey: signingKeySource(args, ctx.env),
      reposDir: str(args, 'repos'),
      artifactsDir: str(args, 'artifacts'),
      candidateRegistry,
      registryAuth,
      topology: replicas === undefined ? undefined : { replicas },
      forge: forgeToken || webhook ? { token: forgeToken } : undefined,
      log: ctx.log,
      metrics: service?.metrics.metrics,
    });
    try {
      if (!rec.session) ctx.log.warn('no --nats: builds are planned and recorded but not dispatched or collected');
      if (!flag(args, 'watch')) {
        // A peer's lease expires within its TTL (30 s) even if the peer was killed: wait that long.
        const report = await reconcileOnce({ runPass: () => rec.runPass({ leased: true }), lease: rec.lease, log: ctx.log, leaseWaitMs: 35_000, signal: ctx.signal });
        // One round of sending before exiting; what the forge did not take waits on kiln/status for the next run.
        await rec.forge?.outbox.drain();
        const line = formatPassLine({ n: 1, reason: 'once', ...report }, buildCounts(rec.memo.observed?.state));
        const actions = (report.plan?.actions ?? []).map((a) => `  ${a.kind} ${a.reason}: ${a.message}`);
        const waiting = (report.plan?.waiting ?? []).map((w) => `  waiting ${w.reason}: ${w.message}`);
        return { data: passData(1, 'once', report), human: [line, ...actions, ...waiting].join('\n') };
      }

      // Started before the first pass, so its jobs already know where this service serves the repos.
      let wake: ((reason: string) => void) | undefined;
      const http = service
        ? await service.serve(rec, service.metrics, { ...service.at, reposDir: str(args, 'repos'), tokensFile: str(args, 'tokens'), publicRead: !flag(args, 'private'), log: ctx.log, wake: (r) => wake?.(r) })
        : undefined;
      // Agents reach buildFrom distributions here, unless kiln.yaml's repoUrl says otherwise.
      if (http && str(args, 'repos')) rec.deps.repoUrl = servedReposUrl(service!.at.host, http.port, hostname());
      let n = 0;
      const handle = watch(
        {
          runPass: () => rec.runPass({ leased: true }),
          readHead: () => rec.readHead(),
          resultsWaiting: rec.session ? () => rec.session!.resultsWaiting() : undefined,
          lease: rec.lease,
          wakeAtOf: (report) => report.wakeAt,
          onPass: (report, reason) => {
            n++;
            if (report.noop && reason === 'interval') return;
            const line = ctx.json
              ? JSON.stringify(passData(n, reason, report))
              : formatPassLine({ n, reason, ...report }, buildCounts(rec.memo.observed?.state));
            ctx.out.write(line + '\n');
          },
          log: ctx.log,
          signal: ctx.signal,
          now: () => new Date(),
          random: Math.random,
        },
        { intervalMs: interval * 1000 },
      );
      wake = (r) => handle.wake(r);
      if (http && !ctx.json) ctx.out.write(`dashboard ${http.url}/  API ${http.url}/api/v1/  metrics ${http.url}/metrics\n`);
      // ── forge (reconciler/forge): webhooks wake this loop; passes that published ask for a follow-up ──
      if (rec.forge) rec.forge.followUp = (reason) => handle.wake(reason);
      const receiver = webhook && rec.forge ? await startReceiver(webhook, { repoDir: rec.deps.repoDir, forge: rec.forge, remote: rec.deps.remote }, (reason) => handle.wake(reason), ctx.log) : undefined;
      const summary = await handle.done.finally(() => Promise.all([http?.close(), receiver?.close()]));
      return { data: summary, human: `stopped after ${summary.passes} pass(es), ${summary.failedPasses} failed` };
    } finally {
      await rec.close();
    }
  },
};
export default command;
