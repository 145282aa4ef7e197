// Sources index text: one stanza per source package, as dpkg-scansources
// writes it: the .dsc's fields with Source renamed Package, then where the
// files are (Directory) and the digests of every file, the .dsc included. Pure.
import { formatControlParagraph, type ControlFields } from '../deb/control-paragraph.ts';

export interface SourceFileDigest {
  name: string;
  size: number;
  md5: string;
  sha256: string;
}

/** One published source package as the index needs it. */
export interface SourceEntry {
  /** The .dsc's fields (signature removed). */
  fields: ControlFields;
  package: string;
  version: string;
  component: string;
  /** Pool directory relative to the repository root. */
  directory: string;
  /** The .dsc first, then the files it lists. */
  files: SourceFileDigest[];
}

// Fields the archive computes from the files; the .dsc's copies are replaced.
const COMPUTED = new Set(['source', 'files', 'checksums-sha1', 'checksums-sha256', 'checksums-sha512', 'directory', 'package']);

export function sourcesStanza(e: SourceEntry): string {
  const kept = [...e.fields].filter(([k]) => !COMPUTED.has(k.toLowerCase()));
  const list = (pick: (f: SourceFileDigest) => string) => e.files.map((f) => `\n ${pick(f)} ${f.size} ${f.name}`).join('');
  return formatControlParagraph([
    ['Package', e.package],
    ...kept,
    ['Directory', e.directory],
    ['Files', list((f) => f.md5)],
    ['Checksums-Sha256', list((f) => f.sha256)],
  ]);
}

/** The entries of one component's Sources. */
export function entriesForComponent(entries: Iterable<SourceEntry>, component: string): SourceEntry[] {
  return [...entries].filter((e) => e.component === component);
}

const order = (a: SourceEntry, b: SourceEntry) => (a.package < b.package ? -1 : a.package > b.package ? 1 : a.version < b.version ? -1 : a.version > b.version ? 1 : 0);

/** The Sources file: stanzas in a stable order, separated by blank lines. */
export function sourcesIndex(entries: SourceEntry[]): string {
  return [...entries].sort(order).map(sourcesStanza).join('\n');
}
