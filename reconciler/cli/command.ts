// What a CLI command is: its options (which also generate --help) and a run()
// that returns data. `--json` prints the data; otherwise `human()` formats it.
import type { Logger } from 'pino';
import { UsageError } from '../../schema/errors.ts';
import type { Env } from './env.ts';

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  description: string;
  /** Shown in --help as the value's name, e.g. DIR. */
  valueName?: string;
  default?: string | boolean;
  multiple?: boolean;
  /** Earlier names of this option: still accepted, with a deprecation note. */
  deprecatedNames?: string[];
}

export interface PositionalSpec {
  name: string;
  description: string;
  required?: boolean;
}

export interface ParsedArgs {
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
}

export interface CommandContext {
  log: Logger;
  env: Env;
  json: boolean;
  /** Where human output goes (stdout). */
  out: NodeJS.WritableStream;
  /** Resolves when the user asks to stop (SIGINT/SIGTERM); long-running commands watch it. */
  signal: AbortSignal;
}

export interface CommandResult<T = unknown> {
  data: T;
  /** Human view of `data`; omitted when the command already streamed its output. */
  human?: string;
  /** Said on stderr (`kiln: warning: …`) in both output modes, so stdout stays the report. */
  warnings?: string[];
  /** 0 ok, 1 problems found. Errors are thrown instead: their kind decides the exit code (exit-code.ts). */
  exitCode?: 0 | 1;
}

export interface Command {
  /** Words after `kiln`, e.g. ['keys', 'generate']. */
  path: string[];
  summary: string;
  /** Longer description for `kiln <cmd> --help`. */
  description?: string;
  options: Record<string, OptionSpec>;
  positionals?: PositionalSpec[];
  examples?: string[];
  run(args: ParsedArgs, ctx: CommandContext): Promise<CommandResult>;
}

/** What lists of commands show (`kiln --help`, a group, did-you-mean): no module of a command is loaded for it. */
export type CommandSummary = Pick<Command, 'path' | 'summary'>;

/** Typed accessors, so commands do not cast parseArgs' union. */
export function str(args: ParsedArgs, name: string): string | undefined {
  const v = args.values[name];
  return typeof v === 'string' ? v : undefined;
}
export function flag(args: ParsedArgs, name: string): boolean {
  return args.values[name] === true;
}
export function num(args: ParsedArgs, name: string): number | undefined {
  const v = str(args, name);
  if (v === undefined) return undefined;
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} takes a number, got '${v}'`);
  return n;
}
