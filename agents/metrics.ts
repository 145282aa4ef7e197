// An agent's own Prometheus metrics (prom-client), served on --metrics-listen:
// builds by outcome, running builds, build duration, pulls and jobs received.
// One registry per Agent (observability/), so several agents in one process do not share counters.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, createRegistry, Gauge, Histogram, type Registry } from '../observability/metrics-registry.ts';

/** How one delivered job ended for this agent. 'requeued': nak'ed for a later retry (result not published). */
export type JobOutcome = 'succeeded' | 'failed' | 'poison' | 'requeued';

const BUILD_SECONDS_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200];

export class AgentMetrics {
  readonly registry: Registry;
  private readonly builds: Counter<'outcome'>;
  private readonly running: Gauge;
  private readonly duration: Histogram<'outcome'>;
  private readonly pulls: Counter<'result'>;
  private readonly received: Counter;

  constructor(labels: { pool: string; arch: string; agent: string }) {
    this.registry = createRegistry({ labels });
    const registers = [this.registry];
    this.builds = new Counter({ name: 'kiln_agent_builds_total', help: 'Jobs handled, by outcome (succeeded, failed, poison, requeued).', labelNames: ['outcome'], registers });
    this.running = new Gauge({ name: 'kiln_agent_running_builds', help: 'Builds running now.', registers });
    this.duration = new Histogram({ name: 'kiln_agent_build_duration_seconds', help: 'Wall time of one job, from delivery to result published.', labelNames: ['outcome'], buckets: BUILD_SECONDS_BUCKETS, registers });
    this.pulls = new Counter({ name: 'kiln_agent_pulls_total', help: 'Pull requests to the work queue, by result (jobs, empty, error).', labelNames: ['result'], registers });
    this.received = new Counter({ name: 'kiln_agent_jobs_received_total', help: 'Jobs delivered to this agent.', registers });
    for (const outcome of ['succeeded', 'failed', 'poison', 'requeued']) this.builds.labels(outcome).inc(0);
    for (const result of ['jobs', 'empty', 'error']) this.pulls.labels(result).inc(0);
  }

  jobStarted(): void {
    this.received.inc();
    this.running.inc();
  }

  jobFinished(outcome: JobOutcome, seconds: number): void {
    this.running.dec();
    this.builds.labels(outcome).inc();
    this.duration.labels(outcome).observe(seconds);
  }

  pulled(result: 'jobs' | 'empty' | 'error'): void {
    this.pulls.labels(result).inc();
  }
}

/** Serve GET /metrics from `registry`; anything else is 404. Resolves once listening. */
export async function serveMetrics(registry: Registry, listen: { host?: string; port: number }): Promise<{ server: Server; url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' || path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try GET /metrics\n');
      return;
    }
    registry.metrics().then(
      (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
      (e: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`${(e as Error).message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(listen.port, listen.host, () => resolve());
  });
  const a = server.address() as AddressInfo;
  const host = a.family === 'IPv6' ? `[${a.address}]` : a.address;
  return {
    server,
    url: `http://${host}:${a.port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
