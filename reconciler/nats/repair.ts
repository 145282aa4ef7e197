// A stream, consumer or bucket deleted behind the reconciler's back (an operator,
// a lost server) is made again by the pass that finds it gone, instead of every
// pass failing until a restart: the step is run once more after a repair.
import type { Logger } from 'pino';

/** Pure: does this error say a JetStream asset is missing (rather than, say, a timeout)? */
export function isMissingTopology(e: unknown): boolean {
  const err = e as { name?: string; message?: string };
  return ['StreamNotFoundError', 'ConsumerNotFoundError', 'JetStreamNotEnabled'].includes(err?.name ?? '') || /stream not found|consumer not found|jetstream is not enabled/i.test(err?.message ?? '');
}

export async function withTopology<T>(nats: { repair?: () => Promise<void> }, log: Logger | undefined, what: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (e) {
    if (!nats.repair || !isMissingTopology(e)) throw e;
    log?.warn({ err: (e as Error).message }, `${what}: the NATS topology is incomplete (${(e as Error).message}); making it again`);
    await nats.repair();
    return step();
  }
}
