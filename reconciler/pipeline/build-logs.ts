// Build logs: the full log of a finished attempt (from the object store, or a small one
// from its status record), or the
// live lines of a running build from stream KILN_LOGS (wire format in
// agents/log-stream.ts: raw output chunks, header Kiln-Attempt; the last
// message of an attempt has header Kiln-Log-End and the last chunk, possibly empty).
import type { JetStreamClient, JetStreamManager } from '@nats-io/jetstream';
import type { ObjectStore } from '@nats-io/obj';
import { NotFoundError } from '../../schema/errors.ts';
import { STREAMS, SUBJECTS } from '../../schema/nats.ts';
import type { BuildRecord } from '../../schema/status.ts';
import { recordedLogText } from '../records/inline-log.ts';

/** The log object names of a build, newest attempt last. */
export async function logObjects(os: ObjectStore, key: string): Promise<string[]> {
  const prefix = `logs/${key}/`;
  const names = (await os.list()).filter((o) => !o.deleted && o.name.startsWith(prefix)).map((o) => o.name);
  const attemptOf = (n: string) => Number.parseInt(n.slice(prefix.length), 10) || 0;
  return names.sort((a, b) => attemptOf(a) - attemptOf(b) || a.localeCompare(b));
}

/** Full build keys in the object store's logs that start with `prefix`. */
export async function keysWithLogs(os: ObjectStore, prefix: string): Promise<string[]> {
  const keys = new Set<string>();
  for (const o of await os.list()) {
    const m = /^logs\/([0-9a-f]{64})\//.exec(o.name);
    if (m && !o.deleted && m[1].startsWith(prefix)) keys.add(m[1]);
  }
  return [...keys];
}

/** Full build keys with live log lines still in stream KILN_LOGS that start with `prefix` (a small log has no object). */
export async function keysWithLiveLogs(jsm: JetStreamManager, prefix: string): Promise<string[]> {
  const info = await jsm.streams.info(STREAMS.logs, { subjects_filter: SUBJECTS.logsAll });
  const at = SUBJECTS.log('').length;
  return Object.keys(info.state.subjects ?? {}).map((s) => s.slice(at)).filter((k) => /^[0-9a-f]{64}$/.test(k) && k.startsWith(prefix));
}

export async function readStoredLog(os: ObjectStore, name: string): Promise<Uint8Array> {
  const bytes = await os.getBlob(name);
  if (!bytes) throw new NotFoundError(`log object ${name} is not in the object store`, { name });
  return bytes;
}

/** The attempt whose log a record keeps (its latest attempt with an outcome). */
function recordedAttempt(record: Pick<BuildRecord, 'attempts'>): number | undefined {
  const done = record.attempts.filter((a) => a.outcome !== undefined).map((a) => a.n);
  return done.length ? Math.max(...done) : undefined;
}

/**
 * A finished attempt's log: the lines on its status record (a small log that came in its
 * result), else the object: the one named by `attempt`, else the record's, else the newest
 * stored for `key`. `object` is null for a log from the record; undefined when there is none.
 */
export async function finishedLog(os: ObjectStore, key: string, record: Pick<BuildRecord, 'attempts' | 'log'> | undefined, attempt?: number): Promise<{ object: string | null; bytes: Uint8Array } | undefined> {
  const text = recordedLogText(record?.log);
  if (record && text !== undefined && (attempt === undefined || attempt === recordedAttempt(record))) return { object: null, bytes: Buffer.from(text) };
  const names = await logObjects(os, key);
  const name = attempt !== undefined ? names.find((n) => n === `logs/${key}/${attempt}`) : (record?.log?.object ?? names[names.length - 1]);
  return name === undefined ? undefined : { object: name, bytes: await readStoredLog(os, name) };
}

export interface FollowOptions {
  signal: AbortSignal;
  write(chunk: Uint8Array): void;
  /** Called when the attempt of the lines changes (to print a separator). */
  onAttempt?(attempt: string): void;
}

/**
 * Print the live log of `key` from the beginning of what the stream holds, and
 * keep following until the latest attempt's end marker (or the signal).
 * Returns how that attempt ended ('succeeded' | 'failed'), if it did.
 */
export async function followLog(js: JetStreamClient, key: string, opts: FollowOptions): Promise<string | undefined> {
  const consumer = await js.consumers.get(STREAMS.logs, { filter_subjects: SUBJECTS.log(key) });
  const messages = await consumer.consume();
  const stop = () => void messages.close();
  opts.signal.addEventListener('abort', stop, { once: true });
  let attempt: string | undefined;
  let end: string | undefined;
  try {
    if (opts.signal.aborted) return undefined;
    for await (const m of messages) {
      const a = m.headers?.get('Kiln-Attempt') ?? '';
      if (a !== attempt) {
        attempt = a;
        end = undefined;
        opts.onAttempt?.(a);
      }
      if (m.data.length) opts.write(m.data);
      const e = m.headers?.get('Kiln-Log-End');
      if (e) end = e;
      // Done when the newest attempt has ended and nothing newer is in the stream.
      if (end && m.info.pending === 0) break;
    }
  } finally {
    opts.signal.removeEventListener('abort', stop);
    await messages.close();
    // The server would keep the ephemeral consumer for its inactivity threshold (minutes): remove it now.
    await consumer.delete().catch(() => undefined);
  }
  return end;
}
