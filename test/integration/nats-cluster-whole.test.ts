// The cluster helper returns only once the cluster is whole: a test that starts
// a 3-node cluster must never see two (ensureTopology's auto replica count reads
// the servers a client's INFO lists, and places a stream on every node).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectNats } from '../../reconciler/nats/connect.ts';
import { ensureTopology } from '../../reconciler/nats/topology.ts';
import { startNatsCluster } from '../helpers/nats-cluster.ts';
import { quiet } from './reliability-harness.ts';

test('nats cluster helper - a node that joins after the meta leader is elected is routed and placeable before the helper returns: auto replicas are three', async (t) => {
  const cluster = await startNatsCluster(t, { late: ['n3'] });
  const nc = await connectNats(cluster.node('n1').url, { name: 'kiln-test', log: quiet });
  t.after(() => nc.close());
  assert.equal(new Set(nc.info?.connect_urls ?? []).size, 3, `n1 lists every server: ${JSON.stringify(nc.info?.connect_urls)}`);
  assert.deepEqual(await ensureTopology(nc, { pools: { deb: { architectures: ['amd64'] } } }), { replicas: 3 });
});
