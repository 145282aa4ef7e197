// A small build log that came in its result (schema/messages.ts INLINE_LOG_MAX): no object
// holds it, logTail is all of it. The status record keeps it line by line (`log.lines`: one
// short string per line, which the fast record writer takes; a block scalar it would hand to
// the slow YAML library). Pure; the digest check makes sure logTail really is the whole log.
import { createHash } from 'node:crypto';
import type { BuildResult } from '../../schema/messages.ts';
import type { BuildRecord } from '../../schema/status.ts';

type RecordLog = NonNullable<BuildRecord['log']>;

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

/** The whole log carried in `result`, when it is one (no object, and logTail hashes to the log's digest). */
export function inlineLogText(result: Pick<BuildResult, 'log' | 'logTail'>): string | undefined {
  const { log, logTail } = result;
  if (!log || log.object !== undefined || logTail === undefined) return undefined;
  return Buffer.byteLength(logTail) === log.size && sha256Hex(logTail) === log.sha256 ? logTail : undefined;
}

/** The record's `log` for a result: its object, or its lines when carried inline (a log neither stored nor carried keeps only its digest). */
export function recordLog(result: Pick<BuildResult, 'log' | 'logTail'>): RecordLog | undefined {
  if (!result.log) return undefined;
  const { sha256, size, object } = result.log;
  if (object !== undefined) return { sha256, size, object };
  const text = inlineLogText(result);
  return text === undefined ? { sha256, size } : { sha256, size, lines: text.split('\n') };
}

/** The log text a record keeps, if any: its lines joined, checked against its digest. */
export function recordedLogText(log: RecordLog | undefined): string | undefined {
  if (!log?.lines) return undefined;
  const text = log.lines.join('\n');
  return sha256Hex(text) === log.sha256 ? text : undefined;
}

/**
 * Lines the reconciler adds to a result's log (a verification problem, say): appended to logTail,
 * and, when logTail is the whole log, to the log itself (its digest and size follow), so the
 * record still keeps all of it.
 */
export function withLogLines(result: BuildResult, lines: string[]): Pick<BuildResult, 'log' | 'logTail'> {
  const logTail = [result.logTail, ...lines].filter(Boolean).join('\n');
  const whole = inlineLogText(result) !== undefined;
  const log = whole ? { sha256: sha256Hex(logTail), size: Buffer.byteLength(logTail) } : result.log;
  return { ...(log ? { log } : {}), logTail };
}
