// pino: pretty on a TTY, JSON lines otherwise. Logs go to stderr so that
// stdout stays clean for --json data.
import { createRequire } from 'node:module';
import { pino, type Logger } from 'pino';
import type Pretty from 'pino-pretty';
import type { Env } from './env.ts';

// pino-pretty (≈ 30 modules) is loaded only for a terminal: most runs (services, scripts, tests) log JSON.
const require = createRequire(import.meta.url);

export function createLogger(env: Env, opts: { quiet?: boolean } = {}): Logger {
  const level = opts.quiet ? 'warn' : env.logLevel;
  if (env.isTTY && process.stderr.isTTY) {
    const pretty = require('pino-pretty') as typeof Pretty;
    return pino({ level }, pretty({ destination: 2, colorize: !env.noColor, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' }));
  }
  return pino({ level }, pino.destination(2));
}
