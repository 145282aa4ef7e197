// The agent's entry in the registry (KV BUCKETS.agents, key = agent id): put
// every few seconds; the bucket's TTL drops agents that stop beating.
import { setTimeout as sleep } from 'node:timers/promises';
import type { KV } from '@nats-io/kv';
import type { Logger } from 'pino';
import type { AgentInfo } from '../schema/messages.ts';
import { assertValid } from '../schema/validate.ts';

/** Shortest time between two puts: what `kiln agents` shows may lag the running set by this much. */
const MIN_GAP_MS = 250;

export class Heartbeat {
  private timer: NodeJS.Timeout | undefined;
  private last: Promise<void> = Promise.resolve();
  /** A put is queued and has not read the info yet: a beat now would only repeat it. */
  private queued = false;
  /** When the last put started (ms since the epoch). */
  private lastPut = 0;

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
   * still queued are folded into it (it reads the info when it runs), and a put comes at least
   * MIN_GAP_MS after the one before: a busy agent starting and finishing hundreds of jobs a
   * second makes a few puts a second, not one per round trip (measured: about one request per
   * two jobs in scripts/bench-dispatch before the gap).
   */
  beat(): void {
    if (this.queued) return;
    this.queued = true;
    this.last = this.last.then(async () => {
      const wait = this.lastPut + MIN_GAP_MS - Date.now();
      if (wait > 0) await sleep(wait);
      this.queued = false;
      this.lastPut = Date.now();
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
