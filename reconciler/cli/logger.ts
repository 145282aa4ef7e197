// pino: pretty on a TTY, JSON lines otherwise. Logs go to stderr so that
// stdout stays clean for --json data.
import { pino, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { Env } from './env.ts';

export function createLogger(env: Env, opts: { quiet?: boolean } = {}): Logger {
  const level = opts.quiet ? 'warn' : env.logLevel;
  if (env.isTTY && process.stderr.isTTY) {
    return pino({ level }, pretty({ destination: 2, colorize: !env.noColor, ignore: 'pid,hostname', translateTime: 'HH:MM:ss' }));
  }
  return pino({ level }, pino.destination(2));
}
