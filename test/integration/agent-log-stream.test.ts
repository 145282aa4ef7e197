// A build log that cannot be written (disk full) is reported by finish(), and
// never crashes the agent process with an unhandled stream error.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pino } from 'pino';
import { BuildLog } from '../../agents/log-stream.ts';

test('agent log - a full disk fails finish() with the error instead of crashing the process', async () => {
  const log = new BuildLog(undefined, 'a'.repeat(64), 1, '/dev/full', pino({ level: 'silent' }));
  for (let i = 0; i < 200; i++) log.write('x'.repeat(1024) + '\n');
  await assert.rejects(log.finish('succeeded'), /ENOSPC/);
  await log.abandon();
});
