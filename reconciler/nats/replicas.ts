// How many copies JetStream keeps of Kiln's streams and buckets. Asked for with
// `--replicas N`, or by default worked out from the cluster the client sees:
// three on a cluster of three or more servers, fewer on a smaller one, one on a
// single server. A node that is down when the reconciler starts makes the
// cluster look smaller, so auto never goes below what the streams already have.
/** JetStream's limit on stream replicas. */
export const MAX_REPLICAS = 5;

/** Pure: the replica count to use when none was asked for. */
export function autoReplicas(server: { cluster?: string; connect_urls?: string[] } | undefined, existing: number[]): number {
  const servers = server?.cluster ? Math.max(1, new Set(server.connect_urls ?? []).size) : 1;
  return Math.max(Math.min(3, servers), ...existing);
}

/** Pure: why `n` cannot be a replica count, or undefined. */
export function replicasProblem(n: number): string | undefined {
  if (!Number.isInteger(n) || n < 1 || n > MAX_REPLICAS) return `replicas must be a whole number from 1 to ${MAX_REPLICAS}, got ${n}`;
  return undefined;
}
