// Drain requests: `kiln agents drain <id>` puts KV BUCKETS.control key
// `drain.<id>`; the agent watching it stops pulling and finishes its builds.
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import { drainKey } from '../schema/nats.ts';

export class DrainWatch {
  private iter: { stop(): void } | undefined;
  /** True once a drain request was seen (the key is removed when the agent is done). */
  requested = false;

  constructor(
    private readonly kv: KV,
    private readonly agentId: string,
    private readonly log: Logger,
  ) {}

  async start(onDrain: (reason: string) => void): Promise<void> {
    const iter = await this.kv.watch({ key: drainKey(this.agentId) });
    this.iter = iter;
    void (async () => {
      for await (const e of iter) {
        if (e.operation !== 'PUT' || this.requested) continue;
        this.requested = true;
        const by = e.string();
        onDrain(`drain requested through KV${by ? ` (${by})` : ''}`);
      }
    })().catch((err: unknown) => this.log.warn({ err }, 'drain watch ended'));
  }

  /** Stop watching; if a drain was requested, clear it so a restarted agent runs normally. */
  async stop(): Promise<void> {
    this.iter?.stop();
    if (this.requested) await this.kv.delete(drainKey(this.agentId));
  }
}
