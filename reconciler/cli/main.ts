// The CLI's one error boundary: parses argv, runs one command, prints its
// data (JSON or human), and maps errors to exit codes. Nothing else exits.
import { errorToJSON, formatDiagnostic, InvalidMetadataError, isKilnError, kindOf, UsageError } from '../../schema/errors.ts';
import type { Command, CommandResult, ParsedArgs } from './command.ts';
import { readEnv } from './env.ts';
import { EXIT, exitCodeFor } from './exit-code.ts';
import { commandHelp } from './help.ts';
import { dispatch } from './dispatch.ts';
import { parseCommandArgs } from './parse-args.ts';
import { suggest } from './resolve-command.ts';
import { createLogger } from './logger.ts';
import { COMMAND_INDEX } from './command-index.ts';

async function checkPositionals(cmd: Command, args: ParsedArgs): Promise<void> {
  const specs = cmd.positionals ?? [];
  const required = specs.filter((p) => p.required).length;
  if (args.positionals.length < required) {
    throw new UsageError(`missing ${specs[args.positionals.length]?.name}\nRun 'kiln ${cmd.path.join(' ')} --help' for usage.`);
  }
  if (args.positionals.length > specs.length) {
    const extra = args.positionals[specs.length];
    // `kiln agents dran`: a mistyped subcommand reads as an extra argument.
    const subs = COMMAND_INDEX.filter((c) => c.path.length === cmd.path.length + 1 && cmd.path.every((w, i) => c.path[i] === w));
    const hit = specs.length === 0 ? suggest(extra, subs.map((c) => c.path[cmd.path.length])) : undefined;
    const hint = hit ? `; did you mean 'kiln ${[...cmd.path, hit].join(' ')}'?` : '';
    throw new UsageError(`unexpected argument '${extra}'${hint}\nRun 'kiln ${cmd.path.join(' ')} --help' for usage.`);
  }
}

function print(result: CommandResult, json: boolean): void {
  for (const w of result.warnings ?? []) process.stderr.write(`kiln: warning: ${w}\n`);
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
    const d = await dispatch(argv);
    if (d.kind === 'help') {
      process.stdout.write(d.text);
      return d.exit;
    }
    const { command, rest } = d;
    const { args, notes } = parseCommandArgs(command, rest);
    for (const n of notes) process.stderr.write(`kiln: warning: ${n}\n`);
    if (args.values.help) {
      process.stdout.write(commandHelp(command));
      return EXIT.ok;
    }
    await checkPositionals(command, args);
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
