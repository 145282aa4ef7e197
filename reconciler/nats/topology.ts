// The JetStream topology Kiln runs on: streams, durable consumers, KV and
// Object Store buckets. ensureTopology() is idempotent: it creates what is
// missing, updates settings that drifted and leaves the rest alone. It never
// deletes: a pool removed from kiln.yaml keeps its consumer (and its queued jobs)
// until an operator removes it. Every stream and bucket gets the same replica
// count (replicas.ts), so a 3-node cluster keeps all of Kiln's state on three.
import { AckPolicy, DeliverPolicy, DiscardPolicy, jetstreamManager, RetentionPolicy, StorageType } from '@nats-io/jetstream';
import type { ConsumerConfig, JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { nanos } from '@nats-io/transport-node';
import { ARTIFACTS_BUCKET, BUCKETS, buildConsumerName, DUPLICATE_WINDOW_MS, identityProblem, RESULTS_CONSUMER, RESULTS_STREAM, STREAMS, SUBJECTS } from '../../schema/nats.ts';
import { UsageError } from '../../schema/errors.ts';
import { autoReplicas, replicasProblem } from './replicas.ts';

export interface TopologyOptions {
  pools: Record<string, { architectures: string[] }>;
  /** How long a pulled job may go without ack/working() before redelivery. */
  ackWaitMs?: number;
  /** Deliveries of one job before the server gives up on it (poison bound). */
  maxDeliver?: number;
  /** Window in which a re-published Nats-Msg-Id is dropped. */
  duplicateWindowMs?: number;
  /** An agent whose heartbeat is older than this disappears from the registry. */
  agentTtlMs?: number;
  /** Ack wait of the reconciler's results consumer (it commits to git before acking). */
  resultsAckWaitMs?: number;
  /** How long live log lines are kept. */
  logMaxAgeMs?: number;
  /** Copies of every stream and bucket (default: auto, see replicas.ts). */
  replicas?: number;
}

export const TOPOLOGY_DEFAULTS = {
  ackWaitMs: 30_000,
  maxDeliver: 5,
  duplicateWindowMs: DUPLICATE_WINDOW_MS,
  agentTtlMs: 30_000,
  resultsAckWaitMs: 60_000,
  logMaxAgeMs: 24 * 3600_000,
} as const;

type StreamSpec = Pick<StreamConfig, 'name' | 'subjects' | 'retention' | 'storage' | 'duplicate_window' | 'max_age' | 'discard' | 'num_replicas'>;
type ConsumerSpec = Pick<ConsumerConfig, 'durable_name' | 'filter_subject' | 'ack_policy' | 'ack_wait' | 'max_deliver' | 'deliver_policy'>;

export interface TopologyPlan {
  streams: StreamSpec[];
  consumers: { stream: string; config: ConsumerSpec }[];
}

/** Pure: the streams and consumers wanted for these options. */
export function planTopology(opts: TopologyOptions): TopologyPlan {
  const o = { ...TOPOLOGY_DEFAULTS, replicas: 1, ...definedOnly(opts) };
  const streams: StreamSpec[] = [
    {
      name: STREAMS.builds,
      subjects: [SUBJECTS.buildsAll],
      retention: RetentionPolicy.Workqueue,
      storage: StorageType.File,
      duplicate_window: nanos(o.duplicateWindowMs),
      max_age: 0,
      discard: DiscardPolicy.Old,
      num_replicas: o.replicas,
    },
    { ...RESULTS_STREAM, subjects: [...RESULTS_STREAM.subjects], duplicate_window: nanos(o.duplicateWindowMs), num_replicas: o.replicas },
    {
      name: STREAMS.logs,
      subjects: [SUBJECTS.logsAll],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      duplicate_window: nanos(Math.min(120_000, o.logMaxAgeMs)),
      max_age: nanos(o.logMaxAgeMs),
      discard: DiscardPolicy.Old,
      num_replicas: o.replicas,
    },
  ];
  const consumers: TopologyPlan['consumers'] = [];
  for (const [pool, { architectures }] of Object.entries(opts.pools).sort(([a], [b]) => a.localeCompare(b))) {
    for (const arch of [...new Set(architectures)].sort()) {
      // Subject tokens: a '.' or wildcard in a pool/arch name would make filters overlap.
      const problem = identityProblem(pool, arch);
      if (problem) throw new UsageError(problem);
      consumers.push({
        stream: STREAMS.builds,
        config: {
          durable_name: buildConsumerName(pool, arch),
          filter_subject: SUBJECTS.build(pool, arch),
          ack_policy: AckPolicy.Explicit,
          ack_wait: nanos(o.ackWaitMs),
          max_deliver: o.maxDeliver,
          deliver_policy: DeliverPolicy.All,
        },
      });
    }
  }
  consumers.push({
    stream: STREAMS.results,
    config: {
      durable_name: RESULTS_CONSUMER,
      filter_subject: SUBJECTS.resultsAll,
      ack_policy: AckPolicy.Explicit,
      ack_wait: nanos(o.resultsAckWaitMs),
      // A result is never dropped: the reconciler acks only once it is in git.
      max_deliver: -1,
      deliver_policy: DeliverPolicy.All,
    },
  });
  return { streams, consumers };
}

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** Pure: the keys of `want` whose values differ in `have`. */
export function drift<T extends object>(want: T, have: Partial<T>): (keyof T)[] {
  return (Object.keys(want) as (keyof T)[]).filter((k) => JSON.stringify(want[k]) !== JSON.stringify(have[k]));
}

function isNotFound(e: unknown): boolean {
  const err = e as { message?: string; name?: string; code?: number; api_error?: { err_code?: number } };
  return /not found/i.test(err?.message ?? '') || err?.name === 'StreamNotFoundError' || err?.name === 'ConsumerNotFoundError';
}

async function ensureStream(jsm: JetStreamManager, want: StreamSpec): Promise<void> {
  let have: StreamConfig;
  try {
    have = (await jsm.streams.info(want.name)).config;
  } catch (e) {
    if (!isNotFound(e)) throw e;
    await jsm.streams.add(want);
    return;
  }
  if (have.retention !== want.retention || have.storage !== want.storage) {
    // The broker's state needs an operator (delete or rename the stream): an environment error, not retried.
    throw new UsageError(
      `stream ${want.name} exists with retention=${have.retention} storage=${have.storage}; ` +
        `Kiln needs retention=${want.retention} storage=${want.storage} (these cannot be changed in place)`,
    );
  }
  if (drift(want, have).length > 0) await jsm.streams.update(want.name, { ...have, ...want });
}

async function ensureConsumer(jsm: JetStreamManager, stream: string, want: ConsumerSpec): Promise<void> {
  const name = want.durable_name!;
  let have: ConsumerConfig;
  try {
    have = (await jsm.consumers.info(stream, name)).config;
  } catch (e) {
    if (!isNotFound(e)) throw e;
    await jsm.consumers.add(stream, want);
    return;
  }
  const changed = drift(want, have);
  if (changed.length === 0) return;
  const { ack_wait, max_deliver, filter_subject } = want;
  await jsm.consumers.update(stream, name, { ack_wait, max_deliver, filter_subject });
}

const kvStream = (bucket: string) => `KV_${bucket}`;
const objStream = (bucket: string) => `OBJ_${bucket}`;
const ALL_STREAMS = [...Object.values(STREAMS), ...[BUCKETS.agents, BUCKETS.control, BUCKETS.lease].map(kvStream), objStream(BUCKETS.artifacts)];

/** Create or update everything Kiln needs on the server. Safe to run on every start. Returns the replica count used. */
export async function ensureTopology(nc: NatsConnection, opts: TopologyOptions): Promise<{ replicas: number }> {
  // checkAPI would ask the meta leader first, which times out while one is being elected.
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const replicas = opts.replicas ?? autoReplicas(nc.info, await existingReplicas(jsm));
  const problem = replicasProblem(replicas);
  if (problem) throw new UsageError(problem);
  const o = { ...TOPOLOGY_DEFAULTS, ...definedOnly(opts), replicas };
  const plan = planTopology({ ...opts, replicas });
  // Buckets first and consumers last: agents wait for their consumer, so once it
  // exists everything else they use does too.
  const kvm = new Kvm(nc);
  // Heartbeats: the bucket's max_age is the TTL (per-key TTL is a no-op on 2.9).
  await kvm.create(BUCKETS.agents, { history: 1, ttl: o.agentTtlMs, replicas });
  await kvm.create(BUCKETS.control, { history: 1, replicas });
  await kvm.create(BUCKETS.lease, { history: 1, replicas });
  await new Objm(nc).create(BUCKETS.artifacts, { ...ARTIFACTS_BUCKET, replicas });
  // Kvm/Objm.create() open an existing bucket as is: apply a changed TTL or replica count ourselves.
  await ensureBucketStream(jsm, kvStream(BUCKETS.agents), { max_age: nanos(o.agentTtlMs), num_replicas: replicas });
  for (const b of [BUCKETS.control, BUCKETS.lease]) await ensureBucketStream(jsm, kvStream(b), { num_replicas: replicas });
  await ensureBucketStream(jsm, objStream(BUCKETS.artifacts), { num_replicas: replicas });
  for (const s of plan.streams) await ensureStream(jsm, s);
  for (const c of plan.consumers) await ensureConsumer(jsm, c.stream, c.config);
  return { replicas };
}

/** Replica counts of the Kiln streams that exist already. */
async function existingReplicas(jsm: JetStreamManager): Promise<number[]> {
  const found: number[] = [];
  for (const name of ALL_STREAMS) {
    try {
      found.push((await jsm.streams.info(name)).config.num_replicas);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  return found;
}

async function ensureBucketStream(jsm: JetStreamManager, stream: string, want: Pick<StreamConfig, 'num_replicas'> & Partial<Pick<StreamConfig, 'max_age'>>): Promise<void> {
  const cfg = (await jsm.streams.info(stream)).config;
  if (drift(want, cfg).length === 0) return;
  // The server refuses a duplicate window longer than max_age.
  const duplicate_window = want.max_age ? Math.min(cfg.duplicate_window, want.max_age) : cfg.duplicate_window;
  await jsm.streams.update(stream, { ...cfg, ...want, duplicate_window });
}
