// The CLI's one error boundary: parses argv, runs one command, prints its
// data (JSON or human), and maps errors to exit codes. Nothing else exits.
import { parseArgs } from 'node:util';
import { errorToJSON, formatDiagnostic, InvalidMetadataError, isKilnError, kindOf, UsageError } from '../../schema/errors.ts';
import type { Command, CommandResult, ParsedArgs } from './command.ts';
import { readEnv } from './env.ts';
import { EXIT, exitCodeFor } from './exit-code.ts';
import { commandHelp, GLOBAL_OPTIONS, rootHelp } from './help.ts';
import { createLogger } from './logger.ts';
import { allCommands, findCommand } from './registry.ts';

function parse(cmd: Command, argv: string[]): ParsedArgs {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [k, o] of Object.entries({ ...cmd.options, ...GLOBAL_OPTIONS })) {
    options[k] = { type: o.type, ...('short' in o && o.short ? { short: o.short } : {}), ...('multiple' in o && o.multiple ? { multiple: true } : {}) };
  }
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
    for (const [k, o] of Object.entries(cmd.options)) if (values[k] === undefined && o.default !== undefined) values[k] = o.default;
    return { values: values as ParsedArgs['values'], positionals };
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\nRun 'kiln ${cmd.path.join(' ')} --help' for usage.`);
  }
}

function checkPositionals(cmd: Command, args: ParsedArgs): void {
  const specs = cmd.positionals ?? [];
  const required = specs.filter((p) => p.required).length;
  if (args.positionals.length < required) {
    throw new UsageError(`missing ${specs[args.positionals.length]?.name}\nRun 'kiln ${cmd.path.join(' ')} --help' for usage.`);
  }
  if (args.positionals.length > specs.length) {
    throw new UsageError(`unexpected argument '${args.positionals[specs.length]}'\nRun 'kiln ${cmd.path.join(' ')} --help' for usage.`);
  }
}

function print(result: CommandResult, json: boolean): void {
  if (json) process.stdout.write(JSON.stringify(result.data, null, 2) + '\n');
  else if (result.human) process.stdout.write(result.human.endsWith('\n') ? result.human : result.human + '\n');
}

/** The one place an error becomes output and an exit code (decided by its kind). */
function reportError(e: unknown, json: boolean): number {
  const kind = kindOf(e);
  if (json) {
    process.stdout.write(JSON.stringify({ ok: false, error: errorToJSON(e) }, null, 2) + '\n');
  }
  if (e instanceof InvalidMetadataError) for (const d of e.diagnostics) process.stderr.write(formatDiagnostic(d) + '\n');
  else if (isKilnError(e)) process.stderr.write(`kiln: ${e.message}\n`);
  else process.stderr.write(`kiln: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
  return exitCodeFor(kind);
}

export async function main(argv: string[]): Promise<number> {
  const json = argv.includes('--json');
  try {
    if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
      process.stdout.write(rootHelp(await allCommands()));
      return argv.length === 0 ? EXIT.usage : EXIT.ok;
    }
    const found = await findCommand(argv);
    if (!found) throw new UsageError(`unknown command '${argv[0]}'. Run 'kiln --help' for the list.`);
    const { command, rest } = found;
    const args = parse(command, rest);
    if (args.values.help) {
      process.stdout.write(commandHelp(command));
      return EXIT.ok;
    }
    checkPositionals(command, args);
    const env = readEnv();
    const log = createLogger(env, { quiet: args.values.quiet === true });
    const controller = new AbortController();
    const stop = () => controller.abort();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    try {
      const result = await command.run(args, { log, env, json, out: process.stdout, signal: controller.signal });
      print(result, json);
      return result.exitCode ?? EXIT.ok;
    } finally {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
    }
  } catch (e) {
    return reportError(e, json);
  }
}
