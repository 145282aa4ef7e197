// Debian control paragraphs (deb822/RFC 822 style): `Field: value` lines,
// continuation lines start with a space or tab. Field order is kept, since
// Packages stanzas repeat the .deb's fields as written.
import { DebFormatError } from '../../../schema/errors.ts';

/** Field name -> value (continuation lines joined with '\n', each keeping its leading space). */
export type ControlFields = Map<string, string>;

const FIELD = /^([!-9;-~][!-9;-~]*):[ \t]*(.*)$/;

/** Parse the first paragraph of `text`. Errors name `where` and the line. */
export function parseControlParagraph(text: string, where = '<control>'): ControlFields {
  const fields: ControlFields = new Map();
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  let current: string | undefined;
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (line.trim() === '') {
      if (fields.size > 0) break; // end of the first paragraph
      continue;
    }
    if (line.startsWith('#')) continue;
    if (line[0] === ' ' || line[0] === '\t') {
      if (!current) throw new DebFormatError(`${where}:${i + 1}: continuation line before any field`, { file: where, line: i + 1 });
      fields.set(current, fields.get(current) + '\n' + line.trimEnd());
      continue;
    }
    const m = FIELD.exec(line);
    if (!m) throw new DebFormatError(`${where}:${i + 1}: expected 'Field: value', got '${line.slice(0, 60)}'`, { file: where, line: i + 1 });
    const name = m[1];
    if ([...fields.keys()].some((k) => k.toLowerCase() === name.toLowerCase())) {
      throw new DebFormatError(`${where}:${i + 1}: field '${name}' appears twice`, { file: where, line: i + 1, field: name });
    }
    fields.set(name, m[2].trimEnd());
    current = name;
  }
  return fields;
}

/** Case-insensitive lookup (deb822 field names are case-insensitive). */
export function field(fields: ControlFields, name: string): string | undefined {
  const exact = fields.get(name);
  if (exact !== undefined) return exact;
  const lower = name.toLowerCase();
  for (const [k, v] of fields) if (k.toLowerCase() === lower) return v;
  return undefined;
}

/** The paragraph as text, one field per line, ending with '\n' (no blank line). */
export function formatControlParagraph(fields: Iterable<[string, string]>): string {
  let out = '';
  for (const [k, v] of fields) out += v === '' ? `${k}:\n` : `${k}: ${v}\n`;
  return out;
}
