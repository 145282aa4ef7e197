// A small build log carried in its result: the agent's side (carriedLogText) and the
// reconciler's (recordLog, recordedLogText, withLogLines), and the record it makes.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { carriedLogText } from '../../agents/deliver.ts';
import { asFailedResult } from '../../reconciler/pipeline/collect.ts';
import { applyResult } from '../../reconciler/records/build-records.ts';
import { recordedLogText, recordLog } from '../../reconciler/records/inline-log.ts';
import { recordYaml } from '../../reconciler/status/record-yaml.ts';
import { stringify } from 'yaml';
import { INLINE_LOG_MAX, type BuildResult } from '../../schema/messages.ts';
import { validators } from '../../schema/validate.ts';

const KEY = 'b'.repeat(64);
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');
const summary = (text: string | Buffer) => {
  const bytes = Buffer.from(text);
  return { size: bytes.length, bytes, sha256: sha256(bytes) };
};

function resultWith(text: string, outcome: 'succeeded' | 'failed' = 'succeeded'): BuildResult {
  const s = summary(text);
  const carried = carriedLogText(s);
  assert.equal(carried, text, 'a small UTF-8 log is carried whole');
  return {
    v: 1, key: KEY, attempt: 1, pool: 'deb', agent: 'a1', outcome,
    inputs: { package: 'hello', version: '1.0', source: { url: 'https://git.example/h.git', commit: 'c'.repeat(40) }, recipe: { format: 'deb', rebuild: 0 }, image: 'img', arch: 'amd64', target: 'bookworm' },
    artifacts: outcome === 'succeeded' ? [{ name: 'hello_1.0_amd64.deb', sha256: 'd'.repeat(64), size: 10 }] : [],
    log: { sha256: s.sha256, size: s.size }, logTail: carried!, startedAt: '2026-01-01T00:00:00Z', finishedAt: '2026-01-01T00:00:01Z',
  };
}

test('inline log - the agent carries only small UTF-8 logs whole', () => {
  assert.equal(carriedLogText({ size: 3, bytes: Buffer.from('ok\n') }), 'ok\n');
  assert.equal(carriedLogText({ size: INLINE_LOG_MAX + 1, bytes: Buffer.alloc(INLINE_LOG_MAX + 1, 0x61) }), undefined, 'too big: an object');
  assert.equal(carriedLogText({ size: 4, bytes: Buffer.from([0x61, 0xff, 0xfe, 0x0a]) }), undefined, 'not UTF-8: an object (the text would not hash to the log)');
  assert.equal(carriedLogText({ size: 100 }), undefined, 'not held in memory: an object');
});

test('inline log - a carried log is a valid result and lands on the record line by line, read back byte for byte', () => {
  const text = 'kiln: build b attempt 1\nnoop build of hello 1.0\nkiln: succeeded in 0.1 s\n';
  const r = resultWith(text);
  assert.ok(validators.buildResult(r), JSON.stringify(validators.buildResult.errors));
  const record = applyResult(undefined, r, { maxAttempts: 3, backoff: { baseMs: 1, capMs: 1 } }, new Date(0), () => 0.5)!;
  assert.deepEqual(record.log, { sha256: sha256(text), size: Buffer.byteLength(text), lines: text.split('\n') });
  assert.ok(validators.buildRecord(record), JSON.stringify(validators.buildRecord.errors));
  assert.equal(recordedLogText(record.log), text);
  // One-line strings: the record writer gives the library's exact bytes.
  assert.equal(recordYaml(record), stringify(record, { sortMapEntries: true, lineWidth: 0, minContentWidth: 0, indent: 2 }));
});

test('inline log - a logTail that is not the whole log (digest differs) is not kept as the log', () => {
  const r = { ...resultWith('line one\nline two\n'), logTail: 'line two' };
  assert.deepEqual(recordLog(r), { sha256: r.log!.sha256, size: r.log!.size });
  assert.equal(recordedLogText({ sha256: 'e'.repeat(64), size: 3, lines: ['abc'] }), undefined, 'lines that do not hash to the digest are not shown as the log');
  const stored = { ...r, log: { ...r.log!, object: 'logs/x/1' } };
  assert.deepEqual(recordLog(stored), { sha256: r.log!.sha256, size: r.log!.size, object: 'logs/x/1' }, 'a stored log is named, never inlined');
});

test('inline log - a success failed by verification keeps the whole log with the problem appended', () => {
  const failed = asFailedResult(resultWith('built\n'), 'integrity', 'integrity check failed', ['artifact x: stored bytes differ']);
  assert.equal(failed.logTail, 'built\n\nkiln: artifact x: stored bytes differ');
  const log = recordLog(failed)!;
  assert.deepEqual(log.lines, ['built', '', 'kiln: artifact x: stored bytes differ']);
  assert.equal(recordedLogText(log), failed.logTail);
});
