// The counter of build results handed back unjudged (reconciler/pass/unjudged.ts), as Prometheus reads it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRegistry, renderMetrics } from '../../observability/metrics-registry.ts';
import { createReconcilerMetrics } from '../../reconciler/metrics/reconciler-metrics.ts';

test('reconciler metrics - results handed back unjudged are counted per result', async () => {
  const registry = createRegistry({ processMetrics: false });
  const metrics = createReconcilerMetrics(registry);
  const reason = 'registry 127.0.0.1:5000 refused the credentials';
  metrics.handedBack([{ buildKey: 'a', reason }, { buildKey: 'b', reason }]);
  metrics.handedBack([{ buildKey: 'a', reason }]);
  assert.match((await renderMetrics(registry)).body, /^kiln_build_results_unjudged_total 3$/m);
});
