// NATS names: streams, subjects, consumers and buckets. Both sides import these.
import { POOL_PATTERN } from './metadata.ts';

export const STREAMS = {
  builds: 'KILN_BUILDS',
  results: 'KILN_RESULTS',
  logs: 'KILN_LOGS',
} as const;

export const BUCKETS = {
  /** Artifacts and full build logs (Object Store). */
  artifacts: 'kiln-artifacts',
  /** Agent registry: one key per agent, refreshed by heartbeats (KV, bucket TTL). */
  agents: 'kiln-agents',
  /** Reconciler lease (KV, compare-and-set). */
  lease: 'kiln-lease',
  /** Control messages to agents, e.g. drain requests (KV). */
  control: 'kiln-control',
} as const;

export const SUBJECTS = {
  /** Work queue of one pool and architecture. */
  build: (pool: string, arch: string) => `kiln.build.${pool}.${arch}`,
  buildsAll: 'kiln.build.>',
  /** A build result (success or failure) keyed by build key. */
  result: (key: string) => `kiln.result.${key}`,
  resultsAll: 'kiln.result.>',
  /** Live log lines of one build. */
  log: (key: string) => `kiln.log.${key}`,
  logsAll: 'kiln.log.>',
} as const;

/**
 * What result delivery needs on the server, as both sides (re)create it: the
 * reconciler's topology (reconciler/nats/topology.ts) and an agent that finds it
 * gone mid-run (agents/delivery-topology.ts). Values as the JetStream API spells them.
 */
export const RESULTS_STREAM = {
  name: STREAMS.results,
  subjects: [SUBJECTS.resultsAll],
  retention: 'workqueue',
  storage: 'file',
  max_age: 0,
  discard: 'old',
} as const;
export const ARTIFACTS_BUCKET = { storage: 'file' } as const;
/** Window in which a re-published Nats-Msg-Id is dropped (results and jobs). */
export const DUPLICATE_WINDOW_MS = 24 * 3600_000;

/** Durable consumer shared by every agent of a pool/arch. */
export const buildConsumerName = (pool: string, arch: string) => `kiln-build-${pool}-${arch}`;
export const RESULTS_CONSUMER = 'kiln-reconciler-results';

/** Object names in the artifacts bucket. */
export const OBJECTS = {
  artifact: (sha256: string) => `sha256/${sha256}`,
  log: (key: string, attempt: number) => `logs/${key}/${attempt}`,
  /**
   * The chunk id (the `nuid` of NATS ADR-20) agents give a one-chunk artifact: derived from its
   * digest (a library nuid is 22 base62 characters, so the two never meet), so the reconciler
   * reads the bytes with one direct get of OBJECT_LAYOUT.chunk (no meta lookup first), and a
   * repeated put replaces the chunk (Nats-Rollup) rather than leaving one behind. Only for
   * artifacts: their name holds one digest, so no two objects share such a chunk.
   */
  artifactChunk: (sha256: string) => `sha256-${sha256}`,
} as const;

/** The Object Store's own layout (NATS ADR-20, as @nats-io/obj writes and reads it). */
export const OBJECT_LAYOUT = {
  stream: (bucket: string) => `OBJ_${bucket}`,
  chunk: (bucket: string, chunkId: string) => `$O.${bucket}.C.${chunkId}`,
  /** `name` as base64url of its bytes (padding kept; latin1, as the library's btoa reads a string). */
  meta: (bucket: string, name: string) => `$O.${bucket}.M.${Buffer.from(name, 'latin1').toString('base64').replace(/\+/g, '-').replace(/\//g, '_')}`,
} as const;

/**
 * Live build logs on SUBJECTS.log(key) (kept by stream KILN_LOGS): each message's
 * payload is a chunk of raw build output; the last message of an attempt has the
 * `end` header set to the outcome ('succeeded' | 'failed') and carries the output's
 * last chunk (possibly empty): read a message's payload before its end header.
 */
export const LOG_HEADERS = {
  attempt: 'Kiln-Attempt',
  end: 'Kiln-Log-End',
} as const;

/**
 * JetStream message ids (deduplication within the stream's duplicate window).
 * A job's id is `${key}.${attempt}`: two reconcilers (or a crash and a re-run)
 * dispatching the same attempt collapse into one message, while a retry
 * (attempt n+1) is a new one. A result's id adds `.result`, so redeliveries of
 * one attempt publish its result once.
 */
export const jobMsgId = (key: string, attempt: number) => `${key}.${attempt}`;
export const resultMsgId = (key: string, attempt: number) => `${key}.${attempt}.result`;

/** KV BUCKETS.control: `kiln agents drain <id>` puts this key; the agent watches it. */
export const drainKey = (agentId: string) => `drain.${agentId}`;

/** KV BUCKETS.lease: the one key of the reconciler lease, changed only by compare-and-set. */
export const LEASE_KEY = 'reconciler';

/** The lease's value (the bucket has no per-key TTL on nats-server 2.9, hence the expiry inside). */
export interface LeaseValue {
  holder: string;
  /** ISO time after which anyone may take the lease. */
  expiresAt: string;
}

export function isLeaseValue(v: unknown): v is LeaseValue {
  const o = v as Partial<LeaseValue> | null;
  return typeof o === 'object' && o !== null && typeof o.holder === 'string' && typeof o.expiresAt === 'string';
}

/**
 * Pool and architecture names become subject tokens, consumer names and KV keys:
 * one rule for both, the one kiln.yaml's pools are validated with (POOL_PATTERN).
 */
const POOL_OR_ARCH = new RegExp(POOL_PATTERN);
const AGENT_ID = /^[A-Za-z0-9_=-]+$/;

/** Pure: why these names cannot name a work queue or an agent, or undefined. */
export function identityProblem(pool: string, arch: string, agentId?: string): string | undefined {
  const rule = "1-31 lowercase letters, digits, '_' and '-', starting with a letter or digit";
  if (!POOL_OR_ARCH.test(pool)) return `pool '${pool}' must be ${rule}`;
  if (!POOL_OR_ARCH.test(arch)) return `arch '${arch}' must be ${rule}`;
  if (agentId !== undefined && !AGENT_ID.test(agentId)) return `agent id '${agentId}' may only hold letters, digits, '_', '=' and '-'`;
  return undefined;
}
