// The agent's entry in the registry (KV BUCKETS.agents, key = agent id): put
// every few seconds; the bucket's TTL drops agents that stop beating.
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import type { AgentInfo } from '../schema/messages.ts';
import { assertValid } from '../schema/validate.ts';

export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private last: Promise<void> = Promise.resolve();

  constructor(
    private readonly kv: KV,
    private readonly info: () => AgentInfo,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.beat();
    this.timer = setInterval(() => this.beat(), this.intervalMs);
    this.timer.unref();
  }

  /** Put the current info now (also called when the running set changes). */
  beat(): void {
    this.last = this.last.then(async () => {
      const info = assertValid('agentInfo', this.info());
      try {
        await this.kv.put(info.id, JSON.stringify(info));
      } catch (e) {
        this.log.warn({ err: e }, 'heartbeat failed');
      }
    });
  }

  /** Stop beating and remove the entry, so the agent disappears at once rather than at TTL. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.last;
    await this.kv.delete(this.info().id);
  }
}
