// NATS names: streams, subjects, consumers and buckets. Both sides import these.

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

/** Durable consumer shared by every agent of a pool/arch. */
export const buildConsumerName = (pool: string, arch: string) => `kiln-build-${pool}-${arch}`;
export const RESULTS_CONSUMER = 'kiln-reconciler-results';

/** Object names in the artifacts bucket. */
export const OBJECTS = {
  artifact: (sha256: string) => `sha256/${sha256}`,
  log: (key: string, attempt: number) => `logs/${key}/${attempt}`,
} as const;

/**
 * Live build logs on SUBJECTS.log(key) (kept by stream KILN_LOGS): each message's
 * payload is a chunk of raw build output; the last message of an attempt has an
 * empty payload and the `end` header set to the outcome ('succeeded' | 'failed').
 */
export const LOG_HEADERS = {
  attempt: 'Kiln-Attempt',
  end: 'Kiln-Log-End',
} as const;
