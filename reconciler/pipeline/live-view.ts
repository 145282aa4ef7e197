// What the HTTP service and the metrics read from NATS, on one connection:
// agents (cached for a second: every builds page overlays who runs what),
// queue depth and the oldest waiting job per pool/arch, results waiting,
// stored logs, drain requests.
import type { JetStreamManager, MsgRequest } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { ObjectStore } from '@nats-io/obj';
import type { NatsConnection } from '@nats-io/transport-node';
import { BUCKETS, RESULTS_CONSUMER, STREAMS } from '../../schema/nats.ts';
import { listAgents, requestDrain, type AgentRow } from './agent-registry.ts';
import { bucketKeys } from './nats-kv.ts';

export interface QueueGauge {
  pool: string;
  arch: string;
  depth: number;
  oldestSeconds: number;
}

const BUILD_SUBJECT = /^kiln\.build\.([^.]+)\.([^.]+)$/;

export class LiveView {
  private agentsCache: { at: number; rows: Promise<AgentRow[]> } | undefined;
  private buckets: Promise<{ agents: KV; control: KV }> | undefined;

  constructor(
    readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    readonly objectStore: ObjectStore,
    private readonly now: () => Date = () => new Date(),
    private readonly agentsMaxAgeMs = 1000,
  ) {}

  private kv(): Promise<{ agents: KV; control: KV }> {
    this.buckets ??= (async () => {
      const kvm = new Kvm(this.nc);
      return { agents: await kvm.open(BUCKETS.agents), control: await kvm.open(BUCKETS.control) };
    })();
    this.buckets.catch(() => (this.buckets = undefined));
    return this.buckets;
  }

  /** Live agents; at most `agentsMaxAgeMs` old. */
  agents(): Promise<AgentRow[]> {
    const t = Date.now();
    if (!this.agentsCache || t - this.agentsCache.at > this.agentsMaxAgeMs) {
      const rows = (async () => {
        const { agents, control } = await this.kv();
        return listAgents(agents, control, await bucketKeys(this.nc, BUCKETS.agents), this.now());
      })();
      this.agentsCache = { at: t, rows };
      rows.catch(() => (this.agentsCache = undefined));
    }
    return this.agentsCache.rows;
  }

  async drain(id: string, by: string): Promise<boolean> {
    const known = (await this.agents()).some((a) => a.id === id);
    if (!known) return false;
    await requestDrain((await this.kv()).control, id, by);
    this.agentsCache = undefined;
    return true;
  }

  async queues(): Promise<QueueGauge[]> {
    const out: QueueGauge[] = [];
    for await (const c of this.jsm.consumers.list(STREAMS.builds)) {
      const m = BUILD_SUBJECT.exec(c.config.filter_subject ?? '');
      if (!m) continue;
      let oldestSeconds = 0;
      if (c.num_pending > 0) {
        // The first message of this subject after the last delivered one is the oldest waiting job.
        const query = { seq: c.delivered.stream_seq + 1, next_by_subj: c.config.filter_subject } as unknown as MsgRequest;
        const msg = await this.jsm.streams.getMessage(STREAMS.builds, query).catch(() => null);
        if (msg) oldestSeconds = Math.max(0, (this.now().getTime() - msg.time.getTime()) / 1000);
      }
      out.push({ pool: m[1], arch: m[2], depth: c.num_pending + c.num_ack_pending, oldestSeconds });
    }
    return out.sort((a, b) => a.pool.localeCompare(b.pool) || a.arch.localeCompare(b.arch));
  }

  async resultsWaiting(): Promise<number> {
    return (await this.jsm.consumers.info(STREAMS.results, RESULTS_CONSUMER)).num_pending;
  }
}
