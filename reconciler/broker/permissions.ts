// Pure: what each broker role may publish and subscribe to. Subjects are the
// ones nats.js 3 uses on nats-server 2.9 (JetStream API `$JS.API.…`, acks
// `$JS.ACK.<stream>.<consumer>.…`, KV `$KV.<bucket>.<key>`, Object Store
// `$O.<bucket>.C|M.…`, flow control `$JS.FC.<stream>.…`).
import { inboxPrefix } from '../../schema/broker.ts';
import { BUCKETS, buildConsumerName, STREAMS, SUBJECTS } from '../../schema/nats.ts';

export interface Permissions {
  publish: string[];
  subscribe: string[];
}

/** Everything: the reconciler creates the topology, dispatches, collects and holds the lease. */
export const RECONCILER_PERMISSIONS: Permissions = { publish: ['>'], subscribe: ['>'] };

/** Read and watch one KV bucket (an ordered consumer on its stream), write its keys. */
function kvBucket(bucket: string): string[] {
  const stream = `KV_${bucket}`;
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.DELETE.${stream}.>`,
    `$JS.FC.${stream}.>`,
    `$KV.${bucket}.>`,
  ];
}

/** Put objects (chunks, then metadata) and read them back; no purge, no delete of the bucket. */
function objectStore(bucket: string): string[] {
  const stream = `OBJ_${bucket}`;
  return [
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.DELETE.${stream}.>`,
    `$JS.FC.${stream}.>`,
    `$O.${bucket}.C.>`,
    `$O.${bucket}.M.>`,
  ];
}

/**
 * An agent of `pool`: pull from (and ack) only the durable consumers of its
 * pool's architectures, publish results and live logs, heartbeat, watch for
 * drain requests, store artifacts and logs. It cannot publish jobs, read other
 * pools' consumers, touch the lease bucket, or subscribe outside its own inbox.
 */
export function agentPermissions(pool: string, architectures: string[], identity: string): Permissions {
  const consumers = [...new Set(architectures)].sort().map((arch) => buildConsumerName(pool, arch));
  return {
    publish: [
      '$JS.API.INFO',
      ...consumers.flatMap((c) => [
        `$JS.API.CONSUMER.INFO.${STREAMS.builds}.${c}`,
        `$JS.API.CONSUMER.MSG.NEXT.${STREAMS.builds}.${c}`,
        `$JS.ACK.${STREAMS.builds}.${c}.>`,
      ]),
      SUBJECTS.resultsAll,
      SUBJECTS.logsAll,
      ...kvBucket(BUCKETS.agents),
      ...kvBucket(BUCKETS.control),
      ...objectStore(BUCKETS.artifacts),
    ],
    subscribe: [`${inboxPrefix(identity)}.>`],
  };
}
