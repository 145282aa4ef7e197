// `kiln agent`: run a build agent for one pool and architecture until SIGTERM
// (or a drain request), then finish running builds and exit 0.
import { mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, defaultAgentId } from '../../../agents/agent.ts';
import { parseListen } from '../../../agents/metrics-listen.ts';
import { REGISTRY_HOST_PATTERN } from '../../../schema/metadata.ts';
import { readRegistryAuth } from '../registry-auth.ts';
import { identityProblem } from '../../../schema/nats.ts';
import { RegistryError, UsageError } from '../../../schema/errors.ts';
import type { RegistryAuth } from '../../../oci/registry-auth.ts';
import { RegistryClient } from '../../../oci/registry-client.ts';
import type { Logger } from 'pino';
import { readCredentials } from '../../broker/credentials.ts';
import { connectNats } from '../../nats/connect.ts';
import { num, str, type Command } from '../command.ts';

const REGISTRY_HOST = new RegExp(REGISTRY_HOST_PATTERN);

const command: Command = {
  path: ['agent'],
  summary: 'Run a build agent: pull jobs of one pool/arch, build them in Docker, publish results.',
  description:
    'Binds to the durable consumer of --pool/--arch (made by the reconciler from kiln.yaml), builds each job in a\n' +
    'container with no network and the job\'s limits, uploads artifacts and the log to the object store and publishes\n' +
    'the result. SIGTERM or `kiln agents drain <id>` stops pulling, lets running builds finish, then exits 0.',
  options: {
    nats: { type: 'string', description: 'NATS server URL, or a cluster\'s URLs comma-separated (default: $KILN_NATS_URL)', valueName: 'URL' },
    'nats-credentials': { type: 'string', description: 'Broker credentials from `kiln nats-config` (default: $KILN_NATS_CREDENTIALS)', valueName: 'FILE' },
    pool: { type: 'string', description: 'Agent pool to serve', valueName: 'POOL', default: 'deb' },
    arch: { type: 'string', description: 'Architecture to build for', valueName: 'ARCH', default: 'amd64' },
    concurrency: { type: 'string', description: 'Builds run at the same time', valueName: 'N', default: '1' },
    'work-dir': { type: 'string', description: 'Directory for per-job work dirs (default: $TMPDIR/kiln-agent)', valueName: 'DIR' },
    id: { type: 'string', description: 'Agent id in the registry (default: host-pool-arch-pid)', valueName: 'NAME' },
    'heartbeat-seconds': { type: 'string', description: 'Heartbeat period', valueName: 'S', default: '5' },
    'metrics-listen': { type: 'string', description: 'Serve Prometheus metrics at http://ADDR/metrics (HOST:PORT or :PORT)', valueName: 'ADDR' },
    'candidate-registry': { type: 'string', description: 'Build `format: oci` jobs and push the images to this registry (HOST[:PORT]; plain http on 127.0.0.1 and localhost)', valueName: 'HOST' },
    'registry-auth': { type: 'string', description: 'Registry credentials, a containers-auth.json as `skopeo login --authfile FILE HOST` writes it, for the candidate registry: push, and pull of base images. Default: anonymous', valueName: 'FILE' },
    'insecure-registry': { type: 'string', multiple: true, description: 'Reach this registry (HOST[:PORT]) over plain http, no TLS, like dockerd\'s flag; repeatable. The reconciler reads kiln.yaml `registries:` instead', valueName: 'HOST' },
  },
  examples: ['kiln agent --nats nats://127.0.0.1:4222 --pool deb --arch amd64 --concurrency 2'],
  async run(args, ctx) {
    const url = str(args, 'nats') ?? ctx.env.natsUrl;
    if (!url) throw new UsageError('no NATS server: pass --nats URL or set KILN_NATS_URL');
    const concurrency = num(args, 'concurrency') ?? 1;
    const heartbeat = num(args, 'heartbeat-seconds') ?? 5;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new UsageError(`--concurrency takes a whole number >= 1, got ${concurrency}`);
    if (!(heartbeat > 0)) throw new UsageError(`--heartbeat-seconds takes a positive number, got ${heartbeat}`);
    const workDir = str(args, 'work-dir') ?? join(tmpdir(), 'kiln-agent');
    await mkdir(workDir, { recursive: true });

    const pool = str(args, 'pool') ?? 'deb';
    const arch = str(args, 'arch') ?? 'amd64';
    const id = str(args, 'id');
    const problem = identityProblem(pool, arch, id);
    if (problem) throw new UsageError(problem);
    const candidateRegistry = str(args, 'candidate-registry');
    if (candidateRegistry !== undefined && !REGISTRY_HOST.test(candidateRegistry)) throw new UsageError(`--candidate-registry takes HOST[:PORT], got '${candidateRegistry}'`);
    const insecure = (args.values['insecure-registry'] as string[] | undefined) ?? [];
    const badHost = insecure.find((h) => !REGISTRY_HOST.test(h));
    if (badHost !== undefined) throw new UsageError(`--insecure-registry takes HOST[:PORT], got '${badHost}'`);
    const candidateInsecure = candidateRegistry !== undefined && (/^(127\.0\.0\.1|localhost)(:|$)/.test(candidateRegistry) || insecure.includes(candidateRegistry));
    const authFile = str(args, 'registry-auth');
    const registryAuth = authFile === undefined ? undefined : await readRegistryAuth(authFile);
    if (candidateRegistry !== undefined) await checkCandidateAccess(candidateRegistry, candidateInsecure, registryAuth, ctx.log);
    const metricsAddr = str(args, 'metrics-listen');
    const listen = metricsAddr === undefined ? undefined : parseListen(metricsAddr);
    if (typeof listen === 'string') throw new UsageError(`--metrics-listen ${listen}`);
    const credsFile = str(args, 'nats-credentials') ?? ctx.env.natsCredentials;
    const credentials = credsFile ? await readCredentials(credsFile) : undefined;

    // prom-client (≈ 110 modules) is loaded only when metrics are served.
    const metricsModule = listen ? await import('../../../agents/metrics.ts') : undefined;
    const metrics = metricsModule && new metricsModule.AgentMetrics({ pool, arch, agent: id ?? defaultAgentId(pool, arch) });
    const served = metricsModule && metrics && listen ? await metricsModule.serveMetrics(metrics.registry, listen).catch((e: Error) => {
      throw new UsageError(`--metrics-listen ${metricsAddr}: ${e.message}`);
    }) : undefined;
    if (served) ctx.log.info({ url: served.url }, 'serving metrics');
    const nc = await connectNats(url, { name: `kiln-agent ${pool}/${arch}`, log: ctx.log, credentials }).catch(async (e: unknown) => {
      await served?.close();
      throw e;
    });
    const agent = new Agent({ nc, log: ctx.log, workDir, concurrency, heartbeatMs: heartbeat * 1000, pool, arch, id, metrics, candidateRegistry, candidateInsecure, registryAuth });
    const onStop = () => agent.drain('stop signal');
    ctx.signal.addEventListener('abort', onStop, { once: true });
    try {
      if (ctx.signal.aborted) agent.drain('stop signal');
      await agent.start();
      await agent.done();
    } finally {
      ctx.signal.removeEventListener('abort', onStop);
      try {
        await agent.close();
      } finally {
        await nc.drain().catch(() => nc.close());
        await served?.close();
      }
    }
    return { data: { agent: agent.id, stopped: true }, human: `agent ${agent.id} stopped` };
  },
};
/**
 * Credentials the candidate refuses stop the agent at start (exit 2) rather than failing every
 * build it takes; a registry that is down now is only logged (builds report it as they run).
 */
async function checkCandidateAccess(registry: string, insecure: boolean, auth: RegistryAuth | undefined, log: Logger): Promise<void> {
  try {
    await new RegistryClient({ tlsVerify: !insecure, auth }).checkAccess(registry);
  } catch (e) {
    if (e instanceof RegistryError && e.kind === 'usage') throw e;
    log.warn({ registry, err: (e as Error).message }, 'the candidate registry did not answer at start');
  }
}

export default command;
