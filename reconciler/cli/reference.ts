// The README's CLI reference, generated from the same command definitions
// that produce `--help`, so the docs cannot drift from the code.
import type { Command } from './command.ts';
import { exitCodesTable } from './exit-code.ts';
import { commandHelp } from './help.ts';

export const REFERENCE_START = '<!-- cli-reference:start -->';
export const REFERENCE_END = '<!-- cli-reference:end -->';

export function cliReference(commands: readonly Command[]): string {
  const sections = commands.map((c) => `### \`kiln ${c.path.join(' ')}\`\n\n\`\`\`\n${commandHelp(c).trimEnd()}\n\`\`\``);
  return [REFERENCE_START, '', '### Exit codes', '', exitCodesTable(), '', ...sections.flatMap((s) => [s, '']), REFERENCE_END].join('\n');
}

/** `readme` with its reference section replaced; throws when the markers are missing. */
export function withReference(readme: string, reference: string): string {
  const start = readme.indexOf(REFERENCE_START);
  const end = readme.indexOf(REFERENCE_END);
  if (start < 0 || end < start) throw new Error(`README.md has no ${REFERENCE_START} … ${REFERENCE_END} section`);
  return readme.slice(0, start) + reference + readme.slice(end + REFERENCE_END.length);
}
