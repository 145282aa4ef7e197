// The build agent's loop: bind to the (pool, arch) durable consumer, pull at
// most `concurrency` jobs at a time, hand each to handleJob, heartbeat into the
// agent registry, and drain on request (SIGTERM via the CLI, or KV control key):
// stop pulling, finish what is running, publish those results, then close.
import { rm } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { jetstream, type Consumer, type ConsumerMessages } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { Objm } from '@nats-io/obj';
import { millis, type NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import type { AgentInfo } from '../schema/messages.ts';
import { BUCKETS, buildConsumerName, identityProblem } from '../schema/nats.ts';
import { UsageError } from '../schema/errors.ts';
import { bindConsumer } from './bind-consumer.ts';
import { DockerRunner } from './docker-runner.ts';
import { OciRunner } from './oci-runner.ts';
import { RpmRunner } from './rpm-runner.ts';
import { DrainWatch } from './drain-watch.ts';
import { Heartbeat } from './heartbeat.ts';
import type { DeliveryPolicy } from './deliver.ts';
import { handleJob, type JobContext, type KeptBuild } from './job-handler.ts';
import type { RegistryAuth } from '../oci/registry-auth.ts';
import type { AgentMetrics } from './metrics.ts';
import type { BuildRunner } from './runner.ts';
import { RunnersByFormat } from './runners.ts';

export interface AgentOptions {
  nc: NatsConnection;
  pool: string;
  arch: string;
  /** Where job work dirs are made (each job gets its own, removed afterwards). */
  workDir: string;
  log: Logger;
  id?: string;
  concurrency?: number;
  heartbeatMs?: number;
  /** How often to look again for a consumer that does not exist yet. */
  bindRetryMs?: number;
  /** How long one pull waits for jobs; also bounds how long a drain waits for the pull. */
  pullExpiresMs?: number;
  /**
   * The build runner. Default: one runner per recipe format (runners.ts: deb -> DockerRunner, rpm -> RpmRunner). Only code can pass another one
   * (NoopRunner for benchmarks); no flag or config file selects it.
   */
  runner?: BuildRunner;
  /** How result delivery is retried (default: about half a minute; see deliver.ts). */
  delivery?: DeliveryPolicy;
  /** Counters to update (served by the CLI on --metrics-listen). */
  metrics?: AgentMetrics;
  /** host[:port] of the candidate registry OCI images are pushed to; without it the agent builds no `oci` recipes. */
  candidateRegistry?: string;
  /** The candidate registry speaks plain http (a loopback registry). */
  candidateInsecure?: boolean;
  /** Credentials for the candidate registry (`--registry-auth`): push rights there only. */
  registryAuth?: RegistryAuth;
}

/** A KV-key-safe default id: host, pool, arch and pid. */
export function defaultAgentId(pool: string, arch: string, host = hostname(), pid = process.pid): string {
  return `${host}-${pool}-${arch}-${pid}`.replace(/[^A-Za-z0-9_-]/g, '-');
}

export class Agent {
  readonly id: string;
  private readonly concurrency: number;
  private readonly runner: BuildRunner;
  private readonly log: Logger;
  private readonly running = new Set<string>();
  /** Built but undelivered (see KeptBuild): delivered, not rebuilt, if their job comes back here. */
  private readonly undelivered = new Map<string, KeptBuild>();
  private readonly inFlight = new Set<Promise<void>>();
  private readonly hardStop = new AbortController();
  private readonly startedAt = new Date().toISOString();
  private draining = false;
  private drainReason = '';
  private wake: (() => void) | undefined;
  private wakeScheduled = false;
  private fetching: ConsumerMessages | undefined;
  private heartbeat: Heartbeat | undefined;
  private drainWatch: DrainWatch | undefined;
  private loop: Promise<void> | undefined;

  constructor(private readonly opts: AgentOptions) {
    const problem = identityProblem(opts.pool, opts.arch, opts.id);
    if (problem) throw new UsageError(problem);
    this.id = opts.id ?? defaultAgentId(opts.pool, opts.arch);
    this.concurrency = Math.max(1, Math.floor(opts.concurrency ?? 1));
    this.log = opts.log.child({ component: 'agent', agent: this.id, pool: opts.pool, arch: opts.arch });
    const labels = { 'kiln.agent': this.id };
    this.runner =
      opts.runner ??
      new RunnersByFormat({
        deb: new DockerRunner({ log: this.log, labels }),
        rpm: new RpmRunner({ log: this.log, labels }),
        ...(opts.candidateRegistry ? { oci: new OciRunner({ log: this.log, labels, candidate: opts.candidateRegistry, insecure: opts.candidateInsecure, auth: opts.registryAuth, arch: opts.arch }) } : {}),
      });
  }

  /** Remote clones kept between jobs; survives restarts when the agent has a fixed --id. */
  get sourceCacheDir(): string {
    return join(this.opts.workDir, '.source-cache', this.id);
  }

  info(): AgentInfo {
    return {
      id: this.id, pool: this.opts.pool, arch: this.opts.arch, host: hostname(), concurrency: this.concurrency,
      running: [...this.running].sort(), draining: this.draining, startedAt: this.startedAt, lastSeen: new Date().toISOString(),
    };
  }

  /** Start pulling. Resolves once the consumer is bound and the heartbeat is running. */
  async start(): Promise<void> {
    const consumer = await this.bind();
    if (!consumer) {
      this.loop = Promise.resolve();
      return;
    }
    await this.runner.prepare?.();
    const { nc } = this.opts;
    const js = jetstream(nc);
    const kvm = new Kvm(nc);
    const [agentsKv, controlKv, os, cinfo] = await Promise.all([
      kvm.open(BUCKETS.agents), kvm.open(BUCKETS.control), new Objm(nc).open(BUCKETS.artifacts), consumer.info(true),
    ]);
    this.heartbeat = new Heartbeat(agentsKv, () => this.info(), this.opts.heartbeatMs ?? 5000, this.log);
    this.heartbeat.start();
    this.drainWatch = new DrainWatch(controlKv, this.id, this.log);
    await this.drainWatch.start((reason) => this.drain(reason));
    const ctx: JobContext = {
      nc, js, os, runner: this.runner, agentId: this.id, pool: this.opts.pool, workDir: this.opts.workDir,
      sourceCacheDir: this.sourceCacheDir,
      ackWaitMs: millis(cinfo.config.ack_wait ?? 30_000_000_000), maxDeliver: cinfo.config.max_deliver ?? -1,
      hardStop: this.hardStop.signal, log: this.log, delivery: this.opts.delivery, undelivered: this.undelivered,
    };
    this.log.info({ concurrency: this.concurrency, runner: this.runner.name, ackWaitMs: ctx.ackWaitMs, maxDeliver: ctx.maxDeliver }, 'agent ready');
    this.loop = this.pull(consumer, ctx);
  }

  /** Wait for the durable consumer made by the reconciler (ensureTopology); agents never create it. */
  private bind(): Promise<Consumer | undefined> {
    return bindConsumer(jetstream(this.opts.nc), buildConsumerName(this.opts.pool, this.opts.arch), {
      retryMs: this.opts.bindRetryMs ?? 2000,
      log: this.log,
      stopped: () => this.draining,
    });
  }

  private async pull(consumer: Consumer, ctx: JobContext): Promise<void> {
    while (!this.draining) {
      if (this.inFlight.size >= this.concurrency) {
        await new Promise<void>((r) => (this.wake = r));
        continue;
      }
      try {
        this.fetching = await consumer.fetch({ max_messages: this.concurrency - this.inFlight.size, expires: this.opts.pullExpiresMs ?? 2000 });
        // A pull asks only for free slots, so a job that arrives after a drain began is run, not
        // handed back: every nak costs a delivery, and the last delivery is reported as poison.
        let got = 0;
        for await (const msg of this.fetching) {
          got++;
          this.spawn(ctx, msg);
        }
        this.opts.metrics?.pulled(got ? 'jobs' : 'empty');
      } catch (e) {
        if (this.draining) break;
        this.opts.metrics?.pulled('error');
        this.log.warn({ err: (e as Error).message }, 'pull failed; retrying');
        await sleep(1000);
      } finally {
        this.fetching = undefined;
      }
    }
    await Promise.allSettled([...this.inFlight]);
  }

  private spawn(ctx: JobContext, msg: Parameters<typeof handleJob>[1]): void {
    const metrics = this.opts.metrics;
    const t0 = performance.now();
    metrics?.jobStarted();
    const p: Promise<void> = handleJob(ctx, msg, this.running).then((outcome) => metrics?.jobFinished(outcome, (performance.now() - t0) / 1000)).finally(() => {
      this.inFlight.delete(p);
      this.heartbeat?.beat();
      this.wakeSoon();
    });
    this.inFlight.add(p);
    // The running set changed: tell the registry now rather than at the next beat.
    setImmediate(() => this.heartbeat?.beat());
  }

  /**
   * Wake the pull loop once the jobs that end in this event-loop turn have all ended: one pull for
   * the slots they free, not one per job (a pull is a subscription, a request and timers).
   */
  private wakeSoon(): void {
    if (this.wakeScheduled) return;
    this.wakeScheduled = true;
    setImmediate(() => {
      this.wakeScheduled = false;
      this.wake?.();
    });
  }

  /** Stop pulling; running builds finish and publish their results. */
  drain(reason = 'drain requested'): void {
    if (this.draining) return;
    this.draining = true;
    this.drainReason = reason;
    this.log.info({ reason, running: [...this.running] }, 'draining: no new jobs; finishing running builds');
    this.heartbeat?.beat();
    // The pull in progress is left to expire (pullExpiresMs): stopping it would drop jobs the
    // server already sent, which then wait out the ack wait and lose a delivery.
    this.wake?.();
  }

  /** Resolves when the pull loop has ended and every running build is settled. */
  async done(): Promise<void> {
    await this.loop;
  }

  /**
   * Drain, wait for running builds, then release everything: the runners' background work,
   * heartbeat entry, drain request, Docker. `hard` kills running containers instead of waiting.
   * Every cleanup runs even if an earlier one fails.
   */
  async close(opts: { hard?: boolean } = {}): Promise<void> {
    this.drain(opts.hard ? 'hard stop' : this.drainReason || 'closing');
    if (opts.hard) this.hardStop.abort();
    const errors: unknown[] = [];
    // With the connection gone there is nothing to tell the registry; the bucket TTL forgets us.
    const online = () => !this.opts.nc.isClosed();
    const { heartbeat, drainWatch } = this;
    // A second close() finds nothing left to release.
    this.heartbeat = undefined;
    this.drainWatch = undefined;
    // A pid-based default id is never seen again: its source cache would only pile up.
    const dropCache = () => (this.opts.id ? undefined : rm(this.sourceCacheDir, { recursive: true, force: true }));
    // Builds never delivered go with us: their jobs are built again elsewhere.
    const dropKept = () => Promise.all([...this.undelivered.values()].map((k) => rm(k.root, { recursive: true, force: true }))).then(() => this.undelivered.clear());
    const steps = [() => this.done(), () => this.runner.close?.({ hard: opts.hard }), () => online() && heartbeat?.stop(), () => online() && drainWatch?.stop(), dropCache, dropKept];
    for (const step of steps) {
      try {
        await step();
      } catch (e) {
        errors.push(e);
        this.log.warn({ err: e }, 'cleanup step failed');
      }
    }
    this.log.info('agent stopped');
    if (errors.length) throw new AggregateError(errors, 'agent close: some cleanups failed');
  }
}
