// The agent's entry in the registry (KV BUCKETS.agents, key = agent id): put
// every few seconds; the bucket's TTL drops agents that stop beating.
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import type { AgentInfo } from '../schema/messages.ts';
import { assertValid } from '../schema/validate.ts';

export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private last: Promise<void> = Promise.resolve();
  /** A put is queued and has not read the info yet: a beat now would only repeat it. */
  private queued = false;

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

  /**
   * Put the current info now (also called when the running set changes). Beats while a put is
   * still queued are folded into it (it reads the info when it runs): a busy agent starting and
   * finishing many jobs at once makes one put at a time, not two per job.
   */
  beat(): void {
    if (this.queued) return;
    this.queued = true;
    this.last = this.last.then(async () => {
      this.queued = false;
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
