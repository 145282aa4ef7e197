// Commands are discovered from commands/<words-joined-by-dash>.ts, so adding a
// command is adding one file. Only the command asked for is loaded.
import { readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Command } from './command.ts';

const COMMANDS_DIR = join(dirname(fileURLToPath(import.meta.url)), 'commands');

async function load(file: string): Promise<Command> {
  const mod = (await import(pathToFileURL(join(COMMANDS_DIR, file)).href)) as { default: Command };
  return mod.default;
}

async function commandFiles(): Promise<string[]> {
  return (await readdir(COMMANDS_DIR)).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).sort();
}

/** The command named by the longest prefix of `argv`, and the words left over. */
export async function findCommand(argv: string[]): Promise<{ command: Command; rest: string[] } | undefined> {
  const files = new Set(await commandFiles());
  const words: string[] = [];
  for (const w of argv) {
    if (w.startsWith('-') || !/^[a-z][a-z-]*$/.test(w)) break;
    words.push(w);
  }
  for (let n = words.length; n > 0; n--) {
    const file = `${words.slice(0, n).join('-')}.ts`;
    if (files.has(file)) return { command: await load(file), rest: argv.slice(n) };
  }
  return undefined;
}

export async function allCommands(): Promise<Command[]> {
  const cmds = await Promise.all((await commandFiles()).map(load));
  return cmds.sort((a, b) => a.path.join(' ').localeCompare(b.path.join(' ')));
}
