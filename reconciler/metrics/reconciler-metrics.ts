// The reconciler's Prometheus metrics (names listed in the README's "Metrics").
// Counters and histograms are moved by the pass (through small hooks: see
// PassMetrics and reconciler-setup.ts); gauges about the queues and agents are
// read from NATS when Prometheus scrapes (see ./scrape-sources.ts), so they are
// never stale and cost nothing between scrapes.
import { Counter, Gauge, Histogram, type Registry } from '../../observability/metrics-registry.ts';
import type { PassMetrics, PassStep } from '../pass/deps.ts';
import type { ForgeMetrics } from './forge-metrics.ts';

/** Read at scrape time; each may throw (NATS down): the gauge then keeps no series. */
export interface ScrapeSources {
  /** Jobs waiting or running per pool/arch, and the age of the oldest waiting one. */
  queues(): Promise<Array<{ pool: string; arch: string; depth: number; oldestSeconds: number }>>;
  resultsWaiting(): Promise<number>;
  agents(): Promise<Array<{ pool: string; arch: string; state: string }>>;
}

export interface ReconcilerMetrics extends PassMetrics {
  registry: Registry;
  forge: ForgeMetrics;
  passStarted(): void;
  /** The pass reached `step` (PassDeps.onStep order). */
  step(step: PassStep): void;
  passFinished(ok: boolean, published: number): void;
}

const STEP_BUCKETS = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];

export function createReconcilerMetrics(registry: Registry, sources?: ScrapeSources): ReconcilerMetrics {
  const builds = new Counter({ name: 'kiln_builds_total', help: 'Build results recorded on kiln/status, by outcome and pool/arch.', labelNames: ['outcome', 'pool', 'arch'], registers: [registry] });
  const stepSeconds = new Histogram({ name: 'kiln_pass_step_duration_seconds', help: 'Time spent in each step of a reconcile pass.', labelNames: ['step'], buckets: STEP_BUCKETS, registers: [registry] });
  const passes = new Counter({ name: 'kiln_passes_total', help: 'Reconcile passes by result (ok or failed).', labelNames: ['result'], registers: [registry] });
  const publishSeconds = new Histogram({ name: 'kiln_publish_duration_seconds', help: 'Time to publish the releases of one pass (passes that published).', buckets: STEP_BUCKETS, registers: [registry] });
  const lastSuccess = new Gauge({ name: 'kiln_last_successful_pass_timestamp_seconds', help: 'Unix time of the last pass that completed without error.', registers: [registry] });
  const statusPushFailures = new Counter({ name: 'kiln_status_push_failures_total', help: 'Failed pushes of kiln/status to the forge remote.', labelNames: ['remote'], registers: [registry] });
  const unjudged = new Counter({ name: 'kiln_build_results_unjudged_total', help: 'Build results handed back unjudged: the reconciler could not read their images back (its registry credentials refused, or the registry down).', registers: [registry] });
  const webhooks = new Counter({ name: 'kiln_webhook_deliveries_total', help: 'Webhook deliveries received, by outcome.', labelNames: ['outcome'], registers: [registry] });

  // Scrape-time gauges: each resets first, so a pool or agent that went away leaves no stale series.
  const oldestJob = new Gauge({ name: 'kiln_queue_oldest_job_age_seconds', help: 'Age of the oldest waiting build job, per pool/arch (0 when none waits).', labelNames: ['pool', 'arch'], registers: [] });
  new Gauge({
    name: 'kiln_queue_depth',
    help: 'Build jobs waiting or running, per pool/arch.',
    labelNames: ['pool', 'arch'],
    registers: [registry],
    // One read of the queues fills kiln_queue_oldest_job_age_seconds too (registered after this one, so collected after).
    async collect() {
      this.reset();
      oldestJob.reset();
      for (const q of (await sources?.queues().catch(() => [])) ?? []) {
        this.set({ pool: q.pool, arch: q.arch }, q.depth);
        oldestJob.set({ pool: q.pool, arch: q.arch }, q.oldestSeconds);
      }
    },
  });
  registry.registerMetric(oldestJob);
  new Gauge({
    name: 'kiln_results_waiting',
    help: 'Build results waiting to be collected by the reconciler.',
    registers: [registry],
    async collect() {
      const n = await sources?.resultsWaiting().catch(() => undefined);
      if (n === undefined) this.reset();
      else this.set(n);
    },
  });
  new Gauge({
    name: 'kiln_agents',
    help: 'Live agents by pool/arch and state (idle, busy, draining).',
    labelNames: ['pool', 'arch', 'state'],
    registers: [registry],
    async collect() {
      this.reset();
      const rows = (await sources?.agents().catch(() => [])) ?? [];
      for (const a of rows) this.inc({ pool: a.pool, arch: a.arch, state: a.state });
    },
  });

  let mark: { step: string; at: number } | undefined;
  /** Milliseconds between 'gated' and 'published' in the current pass: the publish step. */
  let publishMs: number | undefined;
  const now = () => performance.now();
  return {
    registry,
    forge: {
      statusPushFailed: (remote = 'origin') => statusPushFailures.inc({ remote }),
      webhookDelivery: (outcome) => webhooks.inc({ outcome }),
    },
    passStarted() {
      mark = { step: 'start', at: now() };
    },
    step(step) {
      const t = now();
      if (mark) stepSeconds.observe({ step }, (t - mark.at) / 1000);
      // Observed in passFinished, and only when the pass published something.
      if (step === 'published' && mark?.step === 'gated') publishMs = t - mark.at;
      mark = { step, at: t };
    },
    passFinished(ok, published) {
      passes.inc({ result: ok ? 'ok' : 'failed' });
      if (ok) lastSuccess.set(Date.now() / 1000);
      if (ok && published > 0 && publishMs !== undefined) publishSeconds.observe(publishMs / 1000);
      mark = undefined;
      publishMs = undefined;
    },
    handedBack(results) {
      unjudged.inc(results.length);
    },
    recorded(events) {
      for (const r of events.results) builds.inc({ outcome: r.outcome, pool: r.pool, arch: r.inputs.arch });
    },
  };
}
