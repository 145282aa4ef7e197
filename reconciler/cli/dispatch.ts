// The words before a command's options: `kiln --version`, `kiln help plan`,
// `kiln keys` (a group: list its commands), a mistyped command (did you mean…),
// or the command to run with the rest of argv.
import { UsageError } from '../../schema/errors.ts';
import type { Command } from './command.ts';
import { EXIT } from './exit-code.ts';
import { commandHelp, groupHelp, rootHelp } from './help.ts';
import { allCommands, findCommand } from './registry.ts';
import { resolveCommand } from './resolve-command.ts';

/** What argv asks for before any command runs: a help text (with its exit code), or a command. */
export type Dispatch =
  | { kind: 'help'; text: string; exit: number }
  | { kind: 'run'; command: Command; rest: string[] };

export async function dispatch(argv: string[]): Promise<Dispatch> {
  if (argv.length === 0) return { kind: 'help', text: rootHelp(await allCommands()), exit: EXIT.usage };
  if (argv[0] === '--help' || argv[0] === '-h') return { kind: 'help', text: rootHelp(await allCommands()), exit: EXIT.ok };
  if (argv[0] === '--version') argv = ['version', ...argv.slice(1)];
  const asked = argv[0] === 'help' ? argv.slice(1) : argv;
  if (argv[0] === 'help' && asked.length === 0) return { kind: 'help', text: rootHelp(await allCommands()), exit: EXIT.ok };
  // The usual case loads only the command asked for; the rest are loaded to explain a miss.
  const found = await findCommand(asked);
  if (found) return argv[0] === 'help' ? { kind: 'help', text: commandHelp(found.command), exit: EXIT.ok } : { kind: 'run', ...found };
  const commands = await allCommands();
  const r = resolveCommand(asked, commands.map((c) => c.path));
  if (r.kind === 'unknown') {
    const hint = r.suggestion ? `; did you mean 'kiln ${r.suggestion.join(' ')}'?` : '';
    throw new UsageError(`unknown command '${r.words.join(' ')}'${hint}\nRun 'kiln --help' for the list.`);
  }
  if (r.kind === 'group') {
    const wantsHelp = argv[0] === 'help' || r.rest.includes('--help') || r.rest.includes('-h');
    return { kind: 'help', text: groupHelp(r.prefix, commands), exit: wantsHelp ? EXIT.ok : EXIT.usage };
  }
  const command = commands.find((c) => c.path.join(' ') === r.path.join(' '))!;
  return argv[0] === 'help' ? { kind: 'help', text: commandHelp(command), exit: EXIT.ok } : { kind: 'run', command, rest: r.rest };
}
