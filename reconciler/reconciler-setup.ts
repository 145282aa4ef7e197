// Wires one reconciler process from resolved settings: signer, NATS session,
// pass dependencies and the lease. The CLI resolves settings; this builds the
// objects; watch.ts and pass.ts do the work.
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { dockerClient } from '../containers/docker-client.ts';
import type { RegistryAuth } from '../oci/registry-auth.ts';
import { RegistryClient } from '../oci/registry-client.ts';
import { sweepOrphanContainers } from '../containers/sweep.ts';
import type { Logger } from 'pino';
import type { BrokerCredentials } from '../schema/broker.ts';
import { readDesired } from './desired/read-desired.ts';
import { plainHttpHosts } from './desired/normalise.ts';
import type { DesiredState, RegistryDistribution } from './model.ts';
import { resolveCommit } from './git/tree.ts';
import { loadReconcilerSigner, type SigningKeySource } from './keys/load-signer.ts';
import { DEFAULT_POLICY, type PassDeps, type PassPolicy } from './pass/deps.ts';
import { reconcilePass, type PassMemo, type PassReport } from './pass.ts';
import type { Signer } from './signing/signer.ts';
import { gitdirOf } from './status/git-objects.ts';
import type { TopologyOptions } from './nats/topology.ts';
import { openForge, passWithForge, type ForgeSettings } from './forge/reconciler-hook.ts';
import type { ForgeService } from './forge/service.ts';
import { Lease } from './pipeline/lease.ts';
import { openNatsSession, type NatsSession } from './pipeline/nats-session.ts';
import type { Mirror } from './remote/mirror.ts';
import { fetchRevision } from './remote/fetch-revision.ts';
import { remoteStep } from './remote/remote-step.ts';
import { assertStatusSigned } from './trust/index.ts';
import type { ReconcilerMetrics } from './metrics/reconciler-metrics.ts';

export interface ReconcilerSettings {
  repoDir: string;
  natsUrl?: string;
  natsCredentials?: BrokerCredentials;
  signingKey: SigningKeySource;
  reposDir?: string;
  artifactsDir?: string;
  gateImage?: string;
  /** Reach every registry over plain http when verifying results (tests, `kiln up`'s loopback registries); otherwise kiln.yaml decides per host. */
  candidateInsecure?: boolean;
  /** HOST[:PORT] of the candidate registry agents push oci builds to: a result's image must be there, in its recipe's repository. */
  candidateRegistry?: string;
  /** Credentials for the registries (`--registry-auth`): candidate read, production read and write. Absent: anonymous. */
  registryAuth?: RegistryAuth;
  policy?: Partial<PassPolicy>;
  leaseTtlMs?: number;
  topology?: Omit<TopologyOptions, 'pools'>;
  log: Logger;
  /** A remote metadata repo's mirror (repoDir is its git dir): fetched before each pass, kiln/status pushed back. */
  remote?: Mirror;
  /** Passes closer together than this reuse the last fetch of the remote (default 0: fetch before every pass). */
  remoteFetchIntervalMs?: number;
  /** Report commit statuses to the forge kiln.yaml names (reconciler/forge). */
  forge?: ForgeSettings;
  /** Test seam, passed to the pass. */
  onStep?: PassDeps['onStep'];
  /** Pass metrics (step durations, outcomes); absent: none kept. */
  metrics?: ReconcilerMetrics;
}

export interface Reconciler {
  deps: PassDeps;
  forge?: ForgeService;
  memo: PassMemo;
  session?: NatsSession;
  lease?: Lease;
  signer: Signer;
  holder: string;
  /**
   * One pass. `leased`: the caller holds the lease (watch, --once), and the pass stops acting the
   * moment it is lost. Without it (tests of concurrent writers), status compare-and-set alone keeps
   * the branch right.
   */
  runPass(opts?: { leased?: boolean }): Promise<PassReport>;
  readHead(): Promise<string>;
  close(): Promise<void>;
}

/** The desired state at HEAD, or undefined when it cannot be read (the first pass says why). */
export async function desiredAtHead(repoDir: string, log: Logger): Promise<DesiredState | undefined> {
  try {
    const cache = {};
    return (await readDesired({ dir: repoDir, rev: await resolveCommit(repoDir, 'HEAD', cache), cache, log })).state;
  } catch {
    return undefined;
  }
}


/** Registry hosts reached over plain http: kiln.yaml `registries` and registry distributions marked `insecure`. */
function plainHttpRegistries(state: DesiredState | undefined): Set<string> {
  if (!state) return new Set();
  const dists = [...state.distributions.values()].filter((d) => d.format === 'registry' && d.insecure).map((d) => (d as RegistryDistribution).url);
  return new Set([...plainHttpHosts(state.config), ...dists]);
}

const poolsOf = (pools: Record<string, { architectures: string[] }>): TopologyOptions['pools'] =>
  Object.fromEntries(Object.entries(pools).map(([k, v]) => [k, { architectures: [...v.architectures] }]));

export async function openReconciler(s: ReconcilerSettings): Promise<Reconciler> {
  const log = s.log;
  const signer = await loadReconcilerSigner(s.signingKey, new Date(), log);
  const holder = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;
  const remote = s.remote ? remoteStep(s.remote, (commit) => assertStatusSigned({ dir: s.repoDir, cache: {}, commit, publicKeyArmored: signer.publicKeyArmored }), signer, { minFetchIntervalMs: s.remoteFetchIntervalMs }) : undefined;
  // The mirror's first fetch, so that kiln.yaml's pools can be read below; a remote that is down now is tried again by each pass.
  await remote?.beforePass().catch((e: unknown) => log.warn({ err: (e as Error).message }, 'first fetch of the remote metadata repo failed; passes will retry'));
  const atHead = await desiredAtHead(s.repoDir, log);
  let pools = atHead ? poolsOf(atHead.config.pools) : {};
  const session = s.natsUrl ? await openNatsSession(s.natsUrl, { name: `kiln-reconciler ${holder}`, log, pools, topology: s.topology, credentials: s.natsCredentials }) : undefined;
  const memo: PassMemo = {};
  const deps: PassDeps = {
    repoDir: s.repoDir,
    rev: 'HEAD',
    cache: {},
    signer,
    log,
    now: () => new Date(),
    random: Math.random,
    policy: { ...DEFAULT_POLICY, ...s.policy },
    nats: session,
    reposDir: s.reposDir,
    artifactsDir: s.artifactsDir ?? join(await gitdirOf(s.repoDir), 'kiln', 'artifacts'),
    docker: s.reposDir ? dockerClient() : undefined,
    gateImage: s.gateImage ?? 'kiln/bookworm-buildd',
    // Build results are verified in the candidate registry before the pass reads the desired state:
    // the plain-http registries of the last desired state read (at first, of HEAD's).
    candidateRegistry: s.candidateRegistry,
    registry: new RegistryClient({ tlsVerify: (host) => !s.candidateInsecure && !plainHttpRegistries(memo.desired?.state ?? atHead).has(host), auth: s.registryAuth }),
    registryAuth: s.registryAuth,
    // metrics: each step's duration is measured from the previous step's call.
    onStep: s.metrics ? (step) => (s.metrics!.step(step), s.onStep?.(step)) : s.onStep,
    metrics: s.metrics,
    remote,
  };
  // Gate containers of a reconciler killed mid-gate: past their deadline, whoever started them.
  if (deps.docker) await sweepOrphanContainers(deps.docker, log, { roles: ['gate'] }).catch((e: unknown) => log.debug({ err: (e as Error).message }, 'no container sweep (Docker unreachable)'));
  // A pull request's head is not on the tracked branch (a fork's lives only in refs/pull/N/head): fetched for its check.
  const fetchHead = s.remote ? async (rev: string, pr?: number) => void (await fetchRevision(s.remote!, rev, { pullRequest: pr })) : undefined;
  const forge = s.forge ? await openForge({ fetchHead, ...s.forge }, deps, memo) : undefined;
  deps.forgeStatuses = forge !== undefined;
  const lease = session ? new Lease({ kv: session.lease, holder, ttlMs: s.leaseTtlMs ?? 30_000, now: () => new Date(), log }) : undefined;
  return {
    deps,
    memo,
    session,
    lease,
    signer,
    holder,
    forge,
    async runPass(opts = {}) {
      s.metrics?.passStarted();
      let report: PassReport;
      const pass = () => reconcilePass({ ...deps, lease: opts.leased ? lease : undefined }, memo);
      try {
        // ── forge (reconciler/forge): statuses recorded by the pass are sent after it ──
        report = forge ? await passWithForge(forge, pass) : await pass();
      } catch (e) {
        s.metrics?.passFinished(false, 0);
        throw e;
      }
      s.metrics?.passFinished(true, report.published.length);
      // A pool added to kiln.yaml gets its consumer; its jobs already wait in the stream.
      const now = memo.desired ? poolsOf(memo.desired.state.config.pools) : pools;
      if (session && JSON.stringify(now) !== JSON.stringify(pools)) {
        await session.ensure(now);
        pools = now;
      }
      return report;
    },
    readHead: () => resolveCommit(s.repoDir, 'HEAD'),
    async close() {
      await forge?.close();
      await session?.close();
      await signer.dispose();
    },
  };
}
