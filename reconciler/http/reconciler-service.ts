// The HTTP service of a reconciler process (`kiln up`, `kiln reconcile
// --listen`): metrics made before the reconciler (its passes feed them), then
// the server on the reconciler's own NATS connection and signing key.
import type { Logger } from 'pino';
import { createRegistry, type Registry } from '../../observability/metrics-registry.ts';
import { createReconcilerMetrics, type ReconcilerMetrics } from '../metrics/reconciler-metrics.ts';
import { agentState } from '../pipeline/agent-state.ts';
import { LiveView } from '../pipeline/live-view.ts';
import type { Reconciler } from '../reconciler-setup.ts';
import { startHttpServer, type HttpServer } from './server.ts';

export interface ServiceMetrics {
  registry: Registry;
  metrics: ReconcilerMetrics;
  /** Where scrape-time gauges read NATS from, once connected. */
  attach(live: LiveView): void;
}

export function serviceMetrics(): ServiceMetrics {
  const registry = createRegistry({ labels: { component: 'reconciler' } });
  let live: LiveView | undefined;
  const need = () => {
    if (!live) throw new Error('not connected to NATS');
    return live;
  };
  const metrics = createReconcilerMetrics(registry, {
    queues: () => need().queues(),
    resultsWaiting: () => need().resultsWaiting(),
    agents: async () => (await need().agents()).map((a) => ({ pool: a.pool, arch: a.arch, state: agentState(a) })),
  });
  return { registry, metrics, attach: (l) => (live = l) };
}

export interface ServeOptions {
  host: string;
  port: number;
  reposDir?: string;
  tokensFile?: string;
  publicRead: boolean;
  log: Logger;
  wake?(reason: string): void;
}

export async function serveReconciler(rec: Reconciler, m: ServiceMetrics, o: ServeOptions): Promise<HttpServer> {
  const live = rec.session ? new LiveView(rec.session.nc, rec.session.jsm, rec.session.objectStore) : undefined;
  if (live) m.attach(live);
  return startHttpServer({ ...o, repoDir: rec.deps.repoDir, registryAuth: rec.deps.registryAuth, live, signer: rec.signer, metrics: m.registry });
}
