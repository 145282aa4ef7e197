// Read a small credentials file (NATS credentials, registry credentials) and
// check it with its parser: unreadable, too large or invalid is a usage error
// naming the file and, from the parser, line and field.
import { readFile } from 'node:fs/promises';
import { formatDiagnostic, UsageError, type Diagnostic } from '../../schema/errors.ts';

export interface CredentialsFileKind<T> {
  /** What the file holds, for messages: "NATS credentials". */
  what: string;
  /** Prefix of every message (e.g. the flag that named the file). */
  prefix?: string;
  maxBytes: number;
  parse(file: string, text: string): { value?: T; diagnostics: Diagnostic[] };
}

export async function readCredentialsFile<T>(file: string, kind: CredentialsFileKind<T>): Promise<T> {
  const prefix = kind.prefix ?? '';
  let text: string;
  try {
    const bytes = await readFile(file);
    if (bytes.length > kind.maxBytes) throw new Error(`${bytes.length} bytes; a credentials file is at most ${kind.maxBytes}`);
    text = bytes.toString('utf8');
  } catch (e) {
    throw new UsageError(`${prefix}cannot read ${kind.what} ${file}: ${(e as Error).message}`, { file });
  }
  const { value, diagnostics } = kind.parse(file, text);
  if (!value) throw new UsageError(`${prefix}invalid ${kind.what} file:\n${diagnostics.map((d) => '  ' + formatDiagnostic(d)).join('\n')}`, { file, diagnostics });
  return value;
}
