// One reconciler's forge reporting, wired: the outbox over kiln/reconcile
// records (kiln/status) and kiln/check records (state dir), the delivery
// journal, the client for the forge kiln.yaml names, and pull-request checks.
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ForgeStatusRecord } from '../../schema/forge.ts';
import type { ForgeConfig } from '../../schema/metadata.ts';
import { CheckRecords } from './check-outbox.ts';
import type { CheckRunner, CheckVerdict } from './check-verdict.ts';
import { octokitClient, targetUrlFor, type ForgeClient } from './client.ts';
import { DeliveryJournal } from './journal.ts';
import { Outbox, type OutboxRecord } from './outbox.ts';
import { isFinal } from './reconcile-status.ts';

export interface ForgeServiceOptions {
  /** Where the journal and kiln/check records live (e.g. <gitdir>/kiln/forge). */
  stateDir: string;
  /** API token; without one statuses are recorded but wait. */
  token?: string;
  /** kiln.yaml `forge:` of the last desired state read. */
  config(): ForgeConfig | undefined;
  /** The kiln/reconcile records on kiln/status as last read. */
  reconcileRecords(): Iterable<ForgeStatusRecord>;
  runCheck: CheckRunner;
  log: Logger;
  retry?: { baseMs: number; capMs: number };
  /** Tries of a check that could not run (the head not fetchable, the repository unreadable) before its status is `error`. */
  checkAttempts?: number;
  random?: () => number;
  now?: () => Date;
}

export const DEFAULT_FORGE_RETRY = { baseMs: 1_000, capMs: 5 * 60_000 };
/** With DEFAULT_FORGE_RETRY: about 17 minutes of tries before a check that cannot run says `error`. */
export const DEFAULT_CHECK_ATTEMPTS = 12;

export class ForgeService {
  readonly outbox: Outbox;
  private client?: { key: string; client: ForgeClient };
  /** Asks the watch loop for another pass (set by `kiln reconcile --watch`). */
  followUp?: (reason: string) => void;
  private checking: Promise<void> = Promise.resolve();
  /** Checks that could not run, waiting for their next try: head -> timer. */
  private readonly retries = new Map<string, NodeJS.Timeout>();
  private closed = false;

  /** Where the journal, kiln/check records and webhook delivery ids live. */
  get stateDir(): string {
    return this.o.stateDir;
  }

  private constructor(
    private readonly o: ForgeServiceOptions,
    private readonly journal: DeliveryJournal,
    readonly checks: CheckRecords,
  ) {
    const now = o.now ?? (() => new Date());
    this.outbox = new Outbox({
      journal,
      client: () => this.currentClient(),
      targetUrl: (sha, context) => {
        const cfg = o.config();
        return cfg ? targetUrlFor(cfg, sha, context) : undefined;
      },
      records: () => this.records(),
      onComplete: async (r) => {
        if (r.context === 'kiln/check' && isFinal(r)) await checks.remove(r.commit);
      },
      retry: o.retry ?? DEFAULT_FORGE_RETRY,
      random: o.random ?? Math.random,
      now: () => now().getTime(),
      log: o.log.child({ component: 'forge' }),
    });
  }

  static async open(o: ForgeServiceOptions): Promise<ForgeService> {
    const journal = await DeliveryJournal.open(join(o.stateDir, 'journal.jsonl'));
    const checks = await CheckRecords.open(join(o.stateDir, 'checks'), o.log);
    const service = new ForgeService(o, journal, checks);
    for (const e of checks.unfinished()) service.queueCheck(e.commit, e.pullRequest);
    return service;
  }

  /** Send what waits (after a pass, a check, or a retry timer). */
  kick(): void {
    this.outbox.kick();
  }

  /** A pull request's head: recorded `pending` before this resolves, then checked and reported. */
  async onPullRequest(head: string, number: number | undefined): Promise<void> {
    const now = (this.o.now ?? (() => new Date()))();
    if (await this.checks.begin(head, number, now)) this.queueCheck(head, number);
    this.kick();
  }

  /** Resolves when every check queued so far has its verdict recorded. */
  checksSettled(): Promise<void> {
    return this.checking;
  }

  async close(): Promise<void> {
    // A check waiting for its next try stays pending on disk: the next start tries it again.
    this.closed = true;
    for (const t of this.retries.values()) clearTimeout(t);
    this.retries.clear();
    await this.checking;
    await this.outbox.close();
    await this.journal.close();
  }

  private queueCheck(head: string, pullRequest: number | undefined, attempt = 1): void {
    this.checking = this.checking.then(async () => {
      const now = this.o.now ?? (() => new Date());
      let verdict: CheckVerdict;
      try {
        verdict = await this.o.runCheck(head, pullRequest);
      } catch (e) {
        verdict = { ok: false, transient: true, summary: `the check could not run: ${(e as Error).message}` };
      }
      if (verdict.transient) {
        const attempts = this.o.checkAttempts ?? DEFAULT_CHECK_ATTEMPTS;
        if (attempt < attempts) return this.retryCheck(head, pullRequest, attempt, verdict.summary);
        await this.checks.finish(head, 'error', `gave up after ${attempts} tries: ${verdict.summary}`, now());
      } else {
        await this.checks.finish(head, verdict.ok ? 'success' : 'failure', verdict.summary, now());
      }
      this.kick();
    }).catch((e) => this.o.log.error({ err: (e as Error).message, head }, 'could not record a kiln/check verdict'));
  }

  /** No verdict yet: the head stays `pending` and is checked again after a backoff (full jitter, as the outbox retries). */
  private retryCheck(head: string, pullRequest: number | undefined, attempt: number, why: string): void {
    if (this.closed) return;
    const { baseMs, capMs } = this.o.retry ?? DEFAULT_FORGE_RETRY;
    const delayMs = Math.round((this.o.random ?? Math.random)() * Math.min(capMs, baseMs * 2 ** attempt));
    this.o.log.warn({ head, attempt, delayMs, err: why }, 'kiln/check could not run; trying again');
    this.retries.set(head, setTimeout(() => {
      this.retries.delete(head);
      this.queueCheck(head, pullRequest, attempt + 1);
    }, delayMs));
  }

  private *records(): Iterable<OutboxRecord> {
    yield* this.checks.all();
    yield* this.o.reconcileRecords();
  }

  private currentClient(): ForgeClient | undefined {
    const cfg = this.o.config();
    if (!cfg || !this.o.token) return undefined;
    const key = JSON.stringify(cfg);
    if (this.client?.key !== key) this.client = { key, client: octokitClient(cfg, this.o.token, this.o.log) };
    return this.client.client;
  }
}
