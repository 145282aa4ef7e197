// Sends the statuses the records ask for, in order per commit, each exactly
// once: the records (kiln/status for kiln/reconcile, the state dir for
// kiln/check) say WHAT the forge must show, the journal says how far sending
// got. A forge that fails (5xx, network, rate limit) stops the drain until a
// backoff timer fires; nothing is lost, since the records stay until sent.
import type { Logger } from 'pino';
import type { ForgeContext, ForgeStatus } from '../../schema/forge.ts';
import { backoff } from '../../schema/retry.ts';
import type { ForgeClient } from './client.ts';
import type { DeliveryJournal } from './journal.ts';
import { classifySendError } from './send-verdict.ts';

export interface OutboxRecord {
  commit: string;
  context: ForgeContext;
  statuses: ForgeStatus[];
}

export const deliveryId = (r: Pick<OutboxRecord, 'commit' | 'context'>, index: number) => `${r.context}@${r.commit}#${index}`;

export interface OutboxOptions {
  journal: DeliveryJournal;
  /** The forge to send to, or undefined while none is configured (records wait). */
  client(): ForgeClient | undefined;
  targetUrl(sha: string, context: ForgeContext): string | undefined;
  /** Every record that may hold unsent statuses. */
  records(): Iterable<OutboxRecord>;
  /** Called once every status of a record was sent or dropped. */
  onComplete?(record: OutboxRecord): Promise<void>;
  retry: { baseMs: number; capMs: number };
  random: () => number;
  now: () => number;
  log: Logger;
}

export interface DrainReport {
  sent: number;
  dropped: number;
  /** Set when the forge failed: when the next attempt is due. */
  retryAt?: number;
}

export class Outbox {
  private running?: Promise<DrainReport>;
  private again = false;
  private failures = 0;
  private retryAt = 0;
  private timer?: NodeJS.Timeout;
  private unconfiguredLogged = false;
  private closed = false;

  constructor(private readonly o: OutboxOptions) {}

  /** Drain soon; drains never overlap (a kick during one runs another after it). */
  kick(): void {
    void this.drain().catch((e) => this.o.log.warn({ err: (e as Error).message }, 'forge outbox drain failed'));
  }

  drain(): Promise<DrainReport> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let total: DrainReport = { sent: 0, dropped: 0 };
      do {
        this.again = false;
        const r = await this.drainOnce();
        total = { sent: total.sent + r.sent, dropped: total.dropped + r.dropped, retryAt: r.retryAt };
      } while (this.again && total.retryAt === undefined && !this.closed);
      return total;
    })().finally(() => (this.running = undefined));
    return this.running;
  }

  /** Stop: no new drains, no retry timer; resolves once a drain under way has ended. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running?.catch(() => undefined);
  }

  private async drainOnce(): Promise<DrainReport> {
    const report: DrainReport = { sent: 0, dropped: 0 };
    if (this.closed) return report;
    if (this.o.now() < this.retryAt) return { ...report, retryAt: this.retryAt };
    const client = this.o.client();
    if (!client) {
      if (!this.unconfiguredLogged) this.o.log.warn('commit statuses wait: no forge configured (kiln.yaml forge:) or no token');
      this.unconfiguredLogged = true;
      return report;
    }
    for (const record of [...this.o.records()]) {
      const done = await this.sendRecord(client, record, report);
      if (!done) return { ...report, retryAt: this.retryAt };
    }
    this.failures = 0;
    this.o.journal.fresh = false;
    return report;
  }

  /** Send what is left of one record; false when the forge failed and the drain must stop. */
  private async sendRecord(client: ForgeClient, record: OutboxRecord, report: DrainReport): Promise<boolean> {
    const { journal } = this.o;
    let touched = false;
    for (let i = 0; i < record.statuses.length; i++) {
      const id = deliveryId(record, i);
      const phase = journal.phase(id);
      if (phase === 'sent' || phase === 'dropped') continue;
      touched = true;
      try {
        if (phase === 'attempt' || journal.fresh) {
          // The answer to an earlier send was lost: the forge knows whether it arrived.
          const upTo = await this.alreadyPosted(client, record, i);
          if (upTo >= i) {
            for (let k = i; k <= upTo; k++) await journal.mark(deliveryId(record, k), 'sent');
            i = upTo;
            continue;
          }
        }
        const s = record.statuses[i];
        await journal.mark(id, 'attempt');
        await client.createStatus({ sha: record.commit, context: record.context, state: s.state, description: s.description, targetUrl: this.o.targetUrl(record.commit, record.context) });
        await journal.mark(id, 'sent');
        report.sent++;
        this.o.log.debug({ commit: record.commit, context: record.context, state: s.state }, 'commit status sent');
      } catch (e) {
        const verdict = classifySendError(e, this.o.now());
        if (verdict.kind === 'retry') {
          this.scheduleRetry(verdict.notBeforeMs, `${verdict.status ?? 'network'}: ${verdict.message}`, verdict.status === 401 ? 'error' : 'warn');
          return false;
        }
        this.o.log.warn({ commit: record.commit, context: record.context, status: verdict.status }, `forge refused a commit status (dropped): ${verdict.message}`);
        await journal.mark(id, 'dropped');
        report.dropped++;
      }
    }
    if (touched) await this.o.onComplete?.(record);
    return true;
  }

  /** The highest index ≥ from whose status the forge already shows, or -1. */
  private async alreadyPosted(client: ForgeClient, record: OutboxRecord, from: number): Promise<number> {
    const posted = await client.listStatuses(record.commit, record.context);
    for (let k = record.statuses.length - 1; k >= from; k--) {
      const s = record.statuses[k];
      if (posted.some((p) => p.state === s.state && (p.description ?? '') === s.description)) return k;
    }
    return -1;
  }

  private scheduleRetry(notBeforeMs: number | undefined, why: string, level: 'warn' | 'error'): void {
    this.failures++;
    const delay = Math.max(backoff(this.failures, { ...this.o.retry, random: this.o.random }), notBeforeMs ?? 0);
    this.retryAt = this.o.now() + delay;
    // Once per outage at `level`; the attempts after it at debug.
    const log = this.failures > 1 ? this.o.log.debug.bind(this.o.log) : this.o.log[level].bind(this.o.log);
    log({ failures: this.failures, retryInMs: delay }, `forge unavailable, commit statuses wait: ${why}`);
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.kick(), delay);
    this.timer.unref();
  }
}
