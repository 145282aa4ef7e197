// Prometheus metrics plumbing shared by the reconciler and the agents (neither
// imports the other's metrics): a registry per process, with Node's default
// process metrics under a prefix, and the text the /metrics endpoint returns.
// Each side defines its own metrics on the registry it is given.
import { collectDefaultMetrics, Registry } from 'prom-client';

export { Counter, Gauge, Histogram, Registry } from 'prom-client';

export interface RegistryOptions {
  /** Labels on every series, e.g. { component: 'reconciler' }. */
  labels?: Record<string, string>;
  /** Node process metrics as kiln_process_* (CPU, memory) and kiln_nodejs_* (event loop lag, heap); default true. */
  processMetrics?: boolean;
}

export function createRegistry(opts: RegistryOptions = {}): Registry {
  const registry = new Registry();
  if (opts.labels) registry.setDefaultLabels(opts.labels);
  if (opts.processMetrics ?? true) collectDefaultMetrics({ register: registry, prefix: 'kiln_' });
  return registry;
}

/** The body and Content-Type of a /metrics response (Prometheus text format 0.0.4). */
export async function renderMetrics(registry: Registry): Promise<{ contentType: string; body: string }> {
  return { contentType: registry.contentType, body: await registry.metrics() };
}
