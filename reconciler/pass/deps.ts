// Everything a reconcile pass needs, passed in (no globals), and what it
// remembers between passes for incremental work.
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { Unjudged } from './unjudged.ts';
import type { PassEvents } from './events.ts';
import type { GitCache } from '../git/tree.ts';
import type { Signer } from '../signing/signer.ts';
import type { RetryPolicy } from '../records/build-records.ts';
import type { PipelineNats } from '../pipeline/nats-session.ts';
import type { RemoteStep } from '../remote/remote-step.ts';
import type { RegistryAuth } from '../../oci/registry-auth.ts';
import type { RegistryClient } from '../../oci/registry-client.ts';

export type { PipelineNats };

export interface PassPolicy {
  retry: Omit<RetryPolicy, 'maxAttempts'>;
  /** Results taken per pass; the rest wait for the next pass. */
  maxResults: number;
  /** How long a pass waits for results to arrive (0: only what is there). */
  resultWaitMs: number;
  /** While results keep arriving, a pass keeps taking them for up to this long: a burst becomes one status commit. */
  drainMs: number;
  /** Extra time a queued build may go without any result before it is dispatched again. */
  queueGraceMs: number;
  /** A quiet pass is skipped for at most this long (time-based retries need a full pass). */
  quietMaxMs: number;
  /** Time limit of one promotion gate. */
  gateTimeoutSeconds: number;
  /** How often source refs (branches) are resolved again even when the metadata did not change. */
  sourceRefreshMs: number;
}

export interface PassDeps {
  repoDir: string;
  /** The desired-state ref or commit (default HEAD). */
  rev: string;
  cache: GitCache;
  signer: Signer;
  log: Logger;
  now: () => Date;
  random: () => number;
  policy: PassPolicy;
  /** Absent: no dispatch or collection (plan and record only). */
  nats?: PipelineNats;
  /** Where agents reach the published repositories when kiln.yaml sets no repoUrl (the service's own /repos). */
  repoUrl?: string;
  /** Root of the published repositories; absent: nothing is published. */
  reposDir?: string;
  /** Local content-addressed cache of artifacts fetched from the object store. */
  artifactsDir: string;
  /** Reads oci build results back from the candidate registry (absent: a TLS-verifying client). */
  registry?: RegistryClient;
  /** The reconciler's registry credentials (candidate: read; production: read and write); absent: anonymous. */
  registryAuth?: RegistryAuth;
  /** HOST[:PORT] agents push oci builds to; an image reported anywhere else is refused (absent: every oci result is). */
  candidateRegistry?: string;
  /** For promotion gates; absent: gate actions wait. */
  docker?: Docker;
  gateImage: string;
  /** The reconciler lease, when passes run under one: checked before each acting step and before recording. */
  lease?: { assertHeld(): void };
  /** A remote metadata repo: fetched before the pass, kiln/status pushed before acks (reconciler/remote/). */
  remote?: RemoteStep;
  /** Record `kiln/reconcile` commit statuses for the forge on kiln/status (reconciler/forge). */
  forgeStatuses?: boolean;
  /** Test seam: called between steps, so a test can crash the process at a precise point. */
  onStep?: (step: PassStep) => void | Promise<void>;
  /** Metrics hook (reconciler/metrics/): told what each pass recorded. */
  metrics?: PassMetrics;
}

/** What the pass tells a metrics hook (implemented in reconciler/metrics/); each call is cheap and synchronous. */
export interface PassMetrics {
  /** After the status commit and the acks: the results it recorded. */
  recorded(events: PassEvents): void;
  /** After collecting: results handed back unjudged (pass/unjudged.ts). */
  handedBack(unjudged: readonly Unjudged[]): void;
}

export type PassStep = 'observed' | 'collected' | 'planned' | 'dispatched' | 'gated' | 'published' | 'recorded' | 'acked';

export const DEFAULT_POLICY: PassPolicy = {
  retry: { backoff: { baseMs: 30_000, capMs: 30 * 60_000 } },
  maxResults: 1000,
  resultWaitMs: 0,
  drainMs: 5000,
  queueGraceMs: 6 * 3600_000,
  quietMaxMs: 60_000,
  gateTimeoutSeconds: 300,
  sourceRefreshMs: 60_000,
};
