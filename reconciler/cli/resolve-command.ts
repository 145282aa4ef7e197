// Pure: which command the words of argv name, given every command's path.
// `kiln keys` names a group (commands under it, none of its own); a word that
// names nothing gets the nearest command as a suggestion.
import { closest } from '../desired/did-you-mean.ts';

export type Resolution =
  | { kind: 'command'; path: string[]; rest: string[] }
  | { kind: 'group'; prefix: string[]; rest: string[] }
  | { kind: 'unknown'; words: string[]; suggestion?: string[] };

const WORD = /^[a-z][a-z-]*$/;

/** The nearest candidate by edit distance, else the only one that starts with `word`. */
export function suggest(word: string, candidates: readonly string[]): string | undefined {
  const near = closest(word, candidates);
  if (near) return near;
  const prefixed = candidates.filter((c) => word.length >= 2 && c.startsWith(word));
  return prefixed.length === 1 ? prefixed[0] : undefined;
}

const same = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((w, i) => w === b[i]);

export function resolveCommand(argv: readonly string[], paths: readonly (readonly string[])[]): Resolution {
  const words: string[] = [];
  for (const w of argv) {
    if (!WORD.test(w)) break;
    words.push(w);
  }
  // The longest run of words that is a command wins (`agents drain` over `agents`).
  for (let n = words.length; n > 0; n--) {
    const path = words.slice(0, n);
    if (paths.some((p) => same(p, path))) return { kind: 'command', path, rest: argv.slice(n) };
  }
  // No command: the longest prefix that has commands under it is a group.
  let depth = 0;
  while (depth < words.length && paths.some((p) => p.length > depth + 1 && same(p.slice(0, depth + 1), words.slice(0, depth + 1)))) depth++;
  const prefix = words.slice(0, depth);
  if (depth > 0 && depth === words.length) return { kind: 'group', prefix, rest: argv.slice(depth) };
  const next = words[depth] ?? argv[depth] ?? '';
  const options = [...new Set(paths.filter((p) => p.length > depth && same(p.slice(0, depth), prefix)).map((p) => p[depth]))];
  const hit = suggest(next, options);
  return { kind: 'unknown', words: [...prefix, next], ...(hit ? { suggestion: [...prefix, hit] } : {}) };
}
