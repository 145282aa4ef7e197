// Short-lived NATS access for CLI commands (agents, logs): connect, use, close.
import { jetstreamManager } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { Logger } from 'pino';
import { NotFoundError, UsageError } from '../../schema/errors.ts';
import { readCredentials } from '../broker/credentials.ts';
import { connectNats } from '../nats/connect.ts';

/** `credentialsFile`: broker credentials ($KILN_NATS_CREDENTIALS), for a server made by `kiln nats-config`. */
export async function withNats<T>(url: string | undefined, log: Logger, fn: (nc: NatsConnection) => Promise<T>, credentialsFile?: string): Promise<T> {
  if (!url) throw new UsageError('no NATS server: pass --nats URL or set KILN_NATS_URL');
  const credentials = credentialsFile ? await readCredentials(credentialsFile) : undefined;
  // connectNats' NatsConnectError already names the URL (and is transient: exit 3).
  const nc = await connectNats(url, { name: 'kiln-cli', log, credentials });
  try {
    return await fn(nc);
  } finally {
    await nc.close();
  }
}

export async function openBucket(nc: NatsConnection, bucket: string): Promise<KV> {
  try {
    return await new Kvm(nc).open(bucket);
  } catch (cause) {
    // Not there *yet*: the first reconciler pass creates it.
    throw new NotFoundError(`KV bucket ${bucket} does not exist: no reconciler or agent has set up this NATS server yet`, { bucket }, { cause, kind: 'waiting' });
  }
}

/**
 * The keys of a KV bucket, read from its stream's per-subject state. Not
 * kv.keys(): on nats-server 2.9 its watcher can block for good when entries
 * expire by the bucket TTL (nats-server#3481), which is how the agent registry
 * drops dead agents. Deleted keys still have a marker: callers get() each key.
 */
export async function bucketKeys(nc: NatsConnection, bucket: string): Promise<string[]> {
  const prefix = `$KV.${bucket}.`;
  const info = await (await jetstreamManager(nc)).streams.info(`KV_${bucket}`, { subjects_filter: `${prefix}>` });
  return Object.keys(info.state.subjects ?? {})
    .map((s) => s.slice(prefix.length))
    .sort();
}
