// Result delivery's server-side assets (the artifacts bucket, the results
// stream), made again when an agent finds them gone mid-run: a finished build
// must not be thrown away, or rebuilt, for want of a place to put its result.
// Same settings as the reconciler's topology (schema/nats.ts); the reconciler's
// next ensure corrects anything it sets differently (e.g. replicas).
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { ARTIFACTS_BUCKET, BUCKETS, DUPLICATE_WINDOW_MS, RESULTS_STREAM } from '../schema/nats.ts';

const missing = (e: unknown) => (e as { name?: string }).name === 'StreamNotFoundError' || /stream not found/i.test((e as Error).message ?? '');

async function exists(jsm: JetStreamManager, stream: string): Promise<boolean> {
  try {
    await jsm.streams.info(stream);
    return true;
  } catch (e) {
    if (missing(e)) return false;
    throw e;
  }
}

/** Create whichever of the two is missing; returns what was made. */
export async function ensureDeliveryTopology(nc: NatsConnection): Promise<string[]> {
  const jsm = await jetstreamManager(nc, { checkAPI: false });
  const made: string[] = [];
  if (!(await exists(jsm, `OBJ_${BUCKETS.artifacts}`))) {
    await new Objm(nc).create(BUCKETS.artifacts, { ...ARTIFACTS_BUCKET });
    made.push(`object store ${BUCKETS.artifacts}`);
  }
  if (!(await exists(jsm, RESULTS_STREAM.name))) {
    await jsm.streams.add({ ...RESULTS_STREAM, subjects: [...RESULTS_STREAM.subjects], duplicate_window: nanos(DUPLICATE_WINDOW_MS) });
    made.push(`stream ${RESULTS_STREAM.name}`);
  }
  return made;
}
