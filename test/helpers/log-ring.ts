// A logger that keeps its last lines in memory: what a test prints when something
// hangs (the logs say what was running), while a passing test prints nothing.
import pino, { type Logger } from 'pino';

export interface LogRing {
  log: Logger;
  /** The last lines, oldest first. */
  lines(): string[];
}

export function logRing(size = 60, level = 'debug'): LogRing {
  const kept: string[] = [];
  const log = pino({ level }, {
    write(line: string) {
      kept.push(line.trimEnd());
      if (kept.length > size) kept.shift();
    },
  });
  return { log, lines: () => [...kept] };
}
