// Packages index text: one stanza per .deb, the .deb's own control fields
// plus where the file is and its digests. Pure.
import { formatControlParagraph, parseControlParagraph, field } from '../deb/control-paragraph.ts';

/** One published .deb as the index needs it. */
export interface PoolEntry {
  /** The .deb's control paragraph as text. */
  control: string;
  /** Pool path relative to the repository root. */
  filename: string;
  size: number;
  sha256: string;
  md5: string;
  package: string;
  version: string;
  /** Control `Architecture` (may be `all`). */
  arch: string;
  component: string;
}

// Fields apt computes from the file itself: never trust the .deb's copy.
const COMPUTED = new Set(['filename', 'size', 'md5sum', 'sha1', 'sha256', 'sha512']);

const HAS_COMPUTED = /^(filename|size|md5sum|sha1|sha256|sha512):/im;

/** The control paragraph without the fields apt computes, as stored for the index. */
export function indexableControl(control: string): string {
  if (!HAS_COMPUTED.test(control)) return control;
  return formatControlParagraph([...parseControlParagraph(control)].filter(([k]) => !COMPUTED.has(k.toLowerCase())));
}

export function packagesStanza(e: PoolEntry): string {
  // Plain concatenation: this runs once per package per index on every publish.
  return `${indexableControl(e.control)}Filename: ${e.filename}\nSize: ${e.size}\nMD5sum: ${e.md5}\nSHA256: ${e.sha256}\n`;
}

/** The entries that belong in `component`/binary-`arch` (arch-all packages go in every arch). */
export function entriesForIndex(entries: Iterable<PoolEntry>, component: string, arch: string): PoolEntry[] {
  const out: PoolEntry[] = [];
  for (const e of entries) if (e.component === component && (e.arch === arch || e.arch === 'all')) out.push(e);
  return out;
}

const order = (a: PoolEntry, b: PoolEntry) =>
  a.package < b.package ? -1 : a.package > b.package ? 1 : a.version < b.version ? -1 : a.version > b.version ? 1 : a.arch < b.arch ? -1 : a.arch > b.arch ? 1 : 0;

/** The Packages file: stanzas in a stable order, separated by blank lines. `stanzaOf` lets callers cache. */
export function packagesIndex(entries: PoolEntry[], stanzaOf: (e: PoolEntry) => string = packagesStanza): string {
  return [...entries].sort(order).map(stanzaOf).join('\n');
}

/** Summary fields of a control paragraph, for PoolEntry. */
export function identity(control: string): { package: string; version: string; arch: string; source?: string } {
  const f = parseControlParagraph(control);
  const source = field(f, 'Source')?.replace(/\s*\(.*\)$/, '');
  return { package: field(f, 'Package') ?? '', version: field(f, 'Version') ?? '', arch: field(f, 'Architecture') ?? '', ...(source ? { source } : {}) };
}
