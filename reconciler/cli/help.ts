// --help text, generated from the same definitions the parser uses.
import type { Command, CommandSummary } from './command.ts';
import { exitCodesLine } from './exit-code.ts';

export const GLOBAL_OPTIONS = {
  json: { type: 'boolean', description: 'Print machine-readable JSON on stdout.' },
  help: { type: 'boolean', short: 'h', description: 'Show help.' },
  quiet: { type: 'boolean', short: 'q', description: 'Only log warnings and errors.' },
} as const;

function optionLines(options: Command['options']): string[] {
  const rows = Object.entries(options).map(([name, o]) => {
    const left = `${o.short ? `-${o.short}, ` : '    '}--${name}${o.type === 'string' ? ` ${o.valueName ?? 'VALUE'}` : ''}`;
    const def = o.default !== undefined && o.default !== false ? ` (default: ${o.default})` : '';
    const old = 'deprecatedNames' in o && o.deprecatedNames?.length ? ` Formerly ${o.deprecatedNames.map((n) => `--${n}`).join(', ')} (deprecated).` : '';
    return [left, o.description + def + old] as const;
  });
  const width = Math.max(0, ...rows.map(([l]) => l.length));
  return rows.map(([l, r]) => `  ${l.padEnd(width)}  ${r}`);
}

export function commandHelp(cmd: Command): string {
  const pos = (cmd.positionals ?? []).map((p) => (p.required ? p.name : `[${p.name}]`)).join(' ');
  const lines = [`Usage: kiln ${cmd.path.join(' ')} [options]${pos ? ' ' + pos : ''}`, '', cmd.summary];
  if (cmd.description) lines.push('', cmd.description);
  if (cmd.positionals?.length) {
    lines.push('', 'Arguments:');
    for (const p of cmd.positionals) lines.push(`  ${p.name.padEnd(14)}  ${p.description}`);
  }
  lines.push('', 'Options:', ...optionLines({ ...cmd.options, ...GLOBAL_OPTIONS }));
  if (cmd.examples?.length) lines.push('', 'Examples:', ...cmd.examples.map((e) => `  ${e}`));
  return lines.join('\n') + '\n';
}

function commandList(commands: readonly CommandSummary[]): string[] {
  const width = Math.max(...commands.map((c) => c.path.join(' ').length));
  return commands.map((c) => `  ${c.path.join(' ').padEnd(width)}  ${c.summary}`);
}

/** `kiln keys`: the commands under a group. */
export function groupHelp(prefix: readonly string[], commands: readonly CommandSummary[]): string {
  const under = commands.filter((c) => prefix.every((w, i) => c.path[i] === w));
  const name = prefix.join(' ');
  return [`Usage: kiln ${name} <command> [options]`, '', 'Commands:', ...commandList(under), '', `Run \`kiln ${name} <command> --help\` for a command's options.`, ''].join('\n');
}

export function rootHelp(commands: readonly CommandSummary[]): string {
  return [
    'Usage: kiln <command> [options]',
    '',
    'Kiln keeps package repositories equal to what a git metadata repo declares:',
    'it plans, builds on container agents over NATS JetStream, signs, publishes,',
    'and records every outcome as a signed commit on the kiln/status branch.',
    '',
    'Commands:',
    ...commandList(commands),
    '',
    'Run `kiln <command> --help` (or `kiln help <command>`) for a command\'s options; `kiln --version` for the version.',
    exitCodesLine(),
    '',
  ].join('\n');
}
