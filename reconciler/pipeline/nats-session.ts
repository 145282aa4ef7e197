// The reconciler's NATS side, opened once: connection, topology, JetStream
// clients, the artifacts object store and the lease bucket.
import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { Objm, type ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { BrokerCredentials } from '../../schema/broker.ts';
import { BUCKETS, RESULTS_CONSUMER, STREAMS } from '../../schema/nats.ts';
import { connectNats } from '../nats/connect.ts';
import { withTopology } from '../nats/repair.ts';
import { ensureTopology, type TopologyOptions } from '../nats/topology.ts';

/** What a pass needs of NATS: the connection, JetStream and the artifacts store. */
export interface PipelineNats {
  nc: NatsConnection;
  js: JetStreamClient;
  jsm: JetStreamManager;
  objectStore: ObjectStore;
  /** Make again whatever of the topology is gone (a deleted stream, consumer or bucket); see nats/repair.ts. */
  repair?: () => Promise<void>;
}

export interface NatsSession extends PipelineNats {
  lease: KV;
  /** Re-apply the topology (new pools in kiln.yaml). */
  ensure(pools: TopologyOptions['pools']): Promise<void>;
  /** Results waiting in the reconciler's consumer (cheap: one API request). */
  resultsWaiting(): Promise<number>;
  close(): Promise<void>;
}

export async function openNatsSession(url: string, opts: { name: string; log: Logger; pools: TopologyOptions['pools']; topology?: Omit<TopologyOptions, 'pools'>; credentials?: BrokerCredentials }): Promise<NatsSession> {
  const nc = await connectNats(url, { name: opts.name, log: opts.log, credentials: opts.credentials });
  try {
    let pools = opts.pools;
    const ensure = async (next: TopologyOptions['pools']) => {
      pools = next;
      const { replicas } = await ensureTopology(nc, { ...opts.topology, pools: next });
      opts.log.debug({ replicas }, 'JetStream topology in place');
    };
    await ensure(opts.pools);
    const js = jetstream(nc);
    const jsm = await jetstreamManager(nc);
    const objectStore = await new Objm(nc).open(BUCKETS.artifacts);
    const lease = await new Kvm(nc).open(BUCKETS.lease);
    return {
      nc,
      js,
      jsm,
      objectStore,
      lease,
      ensure,
      repair: () => ensure(pools),
      async resultsWaiting() {
        // Asked before every pass: a deleted results stream or consumer is made again here, or no pass would ever run.
        const info = await withTopology({ repair: () => ensure(pools) }, opts.log, 'results', () => jsm.consumers.info(STREAMS.results, RESULTS_CONSUMER));
        return info.num_pending;
      },
      close: () => nc.drain().catch(() => nc.close()),
    };
  } catch (e) {
    await nc.close();
    throw e;
  }
}
