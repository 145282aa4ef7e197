// How user input is shown in any message: quoted, with every character that
// would be invisible or would reorder the text (C0/C1 controls, zero-width and
// other format characters, bidi controls, line separators, lone surrogates)
// written as \u{…}, and cut at a bounded length. One function, used by every
// message that quotes a name, ref, path or value from a metadata file or source.

const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Zl}\p{Zp}\p{Default_Ignorable_Code_Point}]/gu;

const MAX_CHARS = 200;

/** `text` with invisible characters escaped and cut to a bounded length (no quotes: for paths in `file:line`). */
export function printable(text: string, max = MAX_CHARS): string {
  const chars = [...text];
  const cut = chars.length > max ? chars.slice(0, max).join('') : text;
  const escaped = cut.replace(INVISIBLE, (c) => `\\u{${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}}`);
  return chars.length > max ? `${escaped}… (${chars.length - max} more characters)` : escaped;
}

/** `value` as it is quoted in a message: 'value', escaped as printable() does. */
export function quote(value: unknown, max = MAX_CHARS): string {
  return `'${printable(String(value), max)}'`;
}
