// Pure parts of running on a NATS cluster: which requests may be repeated during
// a leader election, the retry waits, the server list, the replica count.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { headers, NoRespondersError, RequestError, TimeoutError } from '@nats-io/transport-node';
import { natsServers } from '../../reconciler/nats/connect.ts';
import { retryable, retryDelayMs, unavailableAnswer } from '../../reconciler/nats/election-retry.ts';
import { autoReplicas, replicasProblem } from '../../reconciler/nats/replicas.ts';
import { planTopology } from '../../reconciler/nats/topology.ts';

const noResponders = new RequestError('no responders', { cause: new NoRespondersError('kiln.result.x') });
const withMsgId = () => {
  const h = headers();
  h.set('Nats-Msg-Id', 'abc.1.result');
  return { headers: h, timeout: 5000 };
};

test('nats election retry - a request nobody received is always repeated', () => {
  assert.equal(retryable('kiln.result.x', undefined, noResponders), true);
  assert.equal(retryable('$JS.API.STREAM.INFO.KILN_BUILDS', undefined, noResponders), true);
});

test('nats election retry - a timed-out request is repeated only when repeating it changes nothing', () => {
  const timeout = new TimeoutError();
  assert.equal(retryable('$JS.API.STREAM.INFO.KILN_BUILDS', undefined, timeout), true, 'API call');
  assert.equal(retryable('$JS.ACK.KILN_BUILDS.c.1.2.3.4.0', undefined, timeout), true, 'ack');
  assert.equal(retryable('kiln.result.x', withMsgId(), timeout), true, 'publish deduplicated by message id');
  assert.equal(retryable('kiln.result.x', { timeout: 5000 }, timeout), false, 'publish without a message id may have been stored');
  assert.equal(retryable('$JS.API.STREAM.INFO.X', undefined, new Error('permissions violation')), false, 'other errors are not elections');
});

test('nats election retry - a 503 API answer means ask again; other answers are final', () => {
  const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
  assert.equal(unavailableAnswer('$JS.API.STREAM.INFO.X', enc({ error: { code: 503, err_code: 10008, description: 'JetStream system temporarily unavailable' } })), true);
  assert.equal(unavailableAnswer('$JS.API.STREAM.INFO.X', enc({ error: { code: 404, err_code: 10059, description: 'stream not found' } })), false);
  assert.equal(unavailableAnswer('$JS.API.STREAM.INFO.X', enc({ config: {} })), false);
  assert.equal(unavailableAnswer('$JS.API.CONSUMER.INFO.X.Y', enc({ error: { code: 500, err_code: 10119, description: 'consumer is offline' } })), true, 'a consumer whose replicas are moving');
  assert.equal(unavailableAnswer('$JS.API.STREAM.INFO.X', enc({ error: { code: 500, err_code: 10118, description: 'stream is offline' } })), true);
  assert.equal(unavailableAnswer('kiln.result.x', enc({ error: { code: 503 } })), false, 'only API answers are read');
  assert.equal(unavailableAnswer('$JS.API.DIRECT.GET.OBJ_x', Buffer.from([0x21, 0x3c, 0x61, 0x72, 0x63, 0x68, 0x3e, 0x0a, 0xff])), false, "a direct get's raw bytes");
  const inside = Buffer.concat([Buffer.from('xxxx'), enc({ error: { code: 503 } })]).subarray(4);
  assert.equal(unavailableAnswer('$JS.API.STREAM.INFO.X', inside), true, 'an answer that is a view into a bigger buffer');
});

test('nats election retry - waits double from the base up to the cap', () => {
  const r = { baseMs: 250, capMs: 2000 };
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, r)), [250, 500, 1000, 2000, 2000, 2000]);
});

test('nats connect - a comma-separated --nats value is a list of servers', () => {
  assert.deepEqual(natsServers('nats://a:4222, nats://b:4222,,nats://c:4222 '), ['nats://a:4222', 'nats://b:4222', 'nats://c:4222']);
  assert.deepEqual(natsServers('nats://a:4222'), ['nats://a:4222']);
});

test('nats replicas - auto: three on a cluster of three or more, its size when smaller, one on a single server, never below what exists', () => {
  const urls = (n: number) => Array.from({ length: n }, (_, i) => `127.0.0.1:${4222 + i}`);
  assert.equal(autoReplicas({ connect_urls: urls(1) }, []), 1, 'no cluster name: a single server');
  assert.equal(autoReplicas(undefined, []), 1);
  assert.equal(autoReplicas({ cluster: 'kiln', connect_urls: urls(3) }, []), 3);
  assert.equal(autoReplicas({ cluster: 'kiln', connect_urls: urls(5) }, []), 3);
  assert.equal(autoReplicas({ cluster: 'kiln', connect_urls: urls(2) }, []), 2);
  assert.equal(autoReplicas({ cluster: 'kiln', connect_urls: urls(2) }, [3, 3]), 3, 'a node down at start does not scale streams down');
  assert.equal(replicasProblem(3), undefined);
  assert.match(replicasProblem(0) ?? '', /1 to 5/);
  assert.match(replicasProblem(2.5) ?? '', /whole number/);
  assert.match(replicasProblem(6) ?? '', /got 6/);
});

test('nats topology - every stream of the plan carries the replica count', () => {
  const plan = planTopology({ pools: { deb: { architectures: ['amd64'] } }, replicas: 3 });
  assert.deepEqual(plan.streams.map((s) => s.num_replicas), [3, 3, 3]);
  assert.deepEqual(planTopology({ pools: {} }).streams.map((s) => s.num_replicas), [1, 1, 1], 'one when not given');
});
