// A command's argv → values, with Kiln's messages instead of parseArgs' own
// ("unknown option --foo for 'kiln plan' (did you mean --rev?)") and old option
// names still accepted, each with a deprecation note.
import { parseArgs } from 'node:util';
import { UsageError } from '../../schema/errors.ts';
import type { Command, OptionSpec, ParsedArgs } from './command.ts';
import { GLOBAL_OPTIONS } from './help.ts';
import { suggest } from './resolve-command.ts';

export interface ParseOutcome {
  args: ParsedArgs;
  /** Deprecation notes to show the user. */
  notes: string[];
}

const usageHint = (cmd: Command) => `Run 'kiln ${cmd.path.join(' ')} --help' for usage.`;

function specs(cmd: Command): Record<string, OptionSpec> {
  return { ...cmd.options, ...GLOBAL_OPTIONS };
}

/** Pure: parseArgs' error as a sentence that names the command and what to type instead. */
export function explainParseError(cmd: Command, e: Error & { code?: string }): string {
  const where = `for 'kiln ${cmd.path.join(' ')}'`;
  const all = specs(cmd);
  const unknown = /Unknown option '(-{1,2}[^']*)'/.exec(e.message);
  if (unknown) {
    const given = unknown[1];
    const hit = given.startsWith('--') ? suggest(given.slice(2).split('=')[0], Object.keys(all)) : undefined;
    return `unknown option ${given} ${where}${hit ? ` (did you mean --${hit}?)` : ''}`;
  }
  const missing = /Option '(?:-\w, )?(--[^' ]+) <value>' argument missing/.exec(e.message);
  if (missing) {
    const o = all[missing[1].slice(2)];
    return `option ${missing[1]} ${where} needs a value${o?.valueName ? ` (${o.valueName})` : ''}`;
  }
  // `--interval -5`: parseArgs will not take a value that starts with '-' unless written with '='.
  const dashValue = /Option '(-{1,2}[^' ]+)' argument is ambiguous/.exec(e.message);
  if (dashValue) {
    const given = dashValue[1];
    const long = given.startsWith('--') ? given.slice(2) : Object.entries(all).find(([, o]) => o.short === given.slice(1))?.[0];
    const name = long ?? given;
    return `option ${given} ${where} needs a value; one that starts with '-' is written --${name}=VALUE`;
  }
  const noValue = /Option '(?:-\w, )?(--[^' ]+)' does not take an argument/.exec(e.message);
  if (noValue) return `option ${noValue[1]} ${where} takes no value`;
  return `${e.message} (${where.slice(4)})`;
}

export function parseCommandArgs(cmd: Command, argv: string[]): ParseOutcome {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  const aliases = new Map<string, string>();
  for (const [name, o] of Object.entries(specs(cmd))) {
    const shape = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
    options[name] = shape;
    for (const old of o.deprecatedNames ?? []) {
      options[old] = { type: o.type, ...(o.multiple ? { multiple: true } : {}) };
      aliases.set(old, name);
    }
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw new UsageError(`${explainParseError(cmd, e as Error)}\n${usageHint(cmd)}`);
  }
  const values = parsed.values as ParsedArgs['values'];
  const notes: string[] = [];
  for (const [old, name] of aliases) {
    if (values[old] === undefined) continue;
    if (values[name] !== undefined) throw new UsageError(`--${old} and --${name} are the same option: give only --${name}\n${usageHint(cmd)}`);
    values[name] = values[old];
    delete values[old];
    notes.push(`--${old} is deprecated: use --${name}`);
  }
  for (const [k, o] of Object.entries(cmd.options)) if (values[k] === undefined && o.default !== undefined) values[k] = o.default;
  return { args: { values, positionals: parsed.positionals }, notes };
}
