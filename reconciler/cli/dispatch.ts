// The words before a command's options: `kiln --version`, `kiln help plan`,
// `kiln keys` (a group: list its commands), a mistyped command (did you mean…),
// or the command to run with the rest of argv.
import { UsageError } from '../../schema/errors.ts';
import type { Command } from './command.ts';
import { EXIT } from './exit-code.ts';
import { commandHelp, GLOBAL_OPTIONS, groupHelp, rootHelp } from './help.ts';
import { COMMAND_INDEX } from './command-index.ts';
import { findCommand } from './registry.ts';
import { resolveCommand } from './resolve-command.ts';

/** What argv asks for before any command runs: a help text (with its exit code), or a command. */
export type Dispatch =
  | { kind: 'help'; text: string; exit: number }
  | { kind: 'run'; command: Command; rest: string[] };

/** The spellings of the global options (all flags): `--json`, `-q` … */
const GLOBAL_FLAGS = new Set(Object.entries(GLOBAL_OPTIONS).flatMap(([name, o]) => [`--${name}`, ...('short' in o ? [`-${o.short}`] : [])]));

/**
 * Pure: global options written before the command name (`kiln --json status`,
 * `kiln -q reconcile`) are moved behind it, where the command's parser reads
 * them; any other option there is refused with where it belongs.
 */
export function hoistGlobalFlags(argv: readonly string[]): { argv: string[]; help: boolean } {
  let i = 0;
  while (i < argv.length && GLOBAL_FLAGS.has(argv[i])) i++;
  const globals = argv.slice(0, i);
  // `kiln --version` is the command `version`.
  const rest = argv[i] === '--version' ? ['version', ...argv.slice(i + 1)] : argv.slice(i);
  if (rest[0]?.startsWith('-')) {
    const name = rest[0].split('=')[0];
    throw new UsageError(`${name} goes after the command name (only ${[...GLOBAL_FLAGS].filter((f) => f.startsWith('--')).join(', ')} may come before it), e.g. 'kiln <command> ${name} …'\nRun 'kiln --help' for the list of commands.`);
  }
  const help = globals.includes('--help') || globals.includes('-h');
  // After the command's words, before its own arguments: a `--` later on still ends the options.
  const words = rest.findIndex((w) => !/^[a-z][a-z-]*$/.test(w));
  const at = words < 0 ? rest.length : words;
  return { argv: [...rest.slice(0, at), ...globals, ...rest.slice(at)], help };
}

export async function dispatch(argv: string[]): Promise<Dispatch> {
  if (argv.length === 0) return { kind: 'help', text: rootHelp(COMMAND_INDEX), exit: EXIT.usage };
  const hoisted = hoistGlobalFlags(argv);
  argv = hoisted.argv;
  // `kiln --help`, `kiln -q --help`: the list of commands; `kiln --json` alone is incomplete usage.
  if (argv.every((w) => GLOBAL_FLAGS.has(w))) return { kind: 'help', text: rootHelp(COMMAND_INDEX), exit: hoisted.help ? EXIT.ok : EXIT.usage };
  const asked = argv[0] === 'help' ? argv.slice(1) : argv;
  if (argv[0] === 'help' && asked.length === 0) return { kind: 'help', text: rootHelp(COMMAND_INDEX), exit: EXIT.ok };
  // Only the command asked for is loaded; a miss is explained from the index (command-index.ts).
  const found = await findCommand(asked);
  if (found) return argv[0] === 'help' ? { kind: 'help', text: commandHelp(found.command), exit: EXIT.ok } : { kind: 'run', ...found };
  const r = resolveCommand(asked, COMMAND_INDEX.map((c) => c.path));
  if (r.kind === 'unknown') {
    const hint = r.suggestion ? `; did you mean 'kiln ${r.suggestion.join(' ')}'?` : '';
    throw new UsageError(`unknown command '${r.words.join(' ')}'${hint}\nRun 'kiln --help' for the list.`);
  }
  if (r.kind === 'group') {
    const wantsHelp = argv[0] === 'help' || r.rest.includes('--help') || r.rest.includes('-h');
    return { kind: 'help', text: groupHelp(r.prefix, COMMAND_INDEX), exit: wantsHelp ? EXIT.ok : EXIT.usage };
  }
  // The index names a command findCommand did not find: the index is stale (scripts/cli-reference rewrites
  // it), or the command's file is not named after its path (a unit test checks both).
  throw new Error(`kiln ${r.path.join(' ')} is in reconciler/cli/command-index.ts but reconciler/cli/commands/${r.path.join('-')}.ts is missing`);
}
