// Whether a built .deb is what its package declares. A build's control fields are
// written by the build itself, so they are never believed: a package declared as
// `b` 2.0.0 must not yield `Package: hello-kiln, Version: 9.9.9` and replace the
// real hello-kiln for every apt client. Pure.
import { field, type ControlFields } from './control-paragraph.ts';

export interface DeclaredIdentity {
  /** The package's name in the metadata repo: the Debian source package name. */
  source: string;
  /** The declared version (metadata repo), the only version its binaries may carry. */
  version: string;
  /** The build's architecture; binaries are that or `all`. */
  arch: string;
  /**
   * The binary packages debian/control declares at the pinned source (read by the
   * agent before the build ran). Absent: only a binary named like the source.
   */
  binaries?: readonly string[];
}

/** `Source: name (version)` -> name; absent -> the binary's own name (Debian policy 5.6.1). */
function sourceName(fields: ControlFields): string | undefined {
  const src = field(fields, 'Source');
  return src === undefined ? field(fields, 'Package') : src.trim().split(/\s+/)[0];
}

/** What is wrong with `fields` (the control paragraph of `file`) for `want`; empty when it matches. */
export function identityProblems(file: string, fields: ControlFields, want: DeclaredIdentity): string[] {
  const problems: string[] = [];
  const pkg = field(fields, 'Package') ?? '';
  const binaries = want.binaries?.length ? want.binaries : [want.source];
  if (!binaries.includes(pkg)) {
    problems.push(`${file} declares Package: ${quote(pkg)}, which is not a binary of ${want.source} (${binaries.join(', ')})`);
  }
  const src = sourceName(fields) ?? '';
  if (src !== want.source) problems.push(`${file} declares Source: ${quote(src)}, not ${want.source}`);
  const version = field(fields, 'Version') ?? '';
  if (version !== want.version) problems.push(`${file} declares Version: ${quote(version)}, not the declared ${want.version}`);
  const arch = field(fields, 'Architecture') ?? '';
  if (arch !== want.arch && arch !== 'all') problems.push(`${file} declares Architecture: ${quote(arch)}, not ${want.arch} or all`);
  return problems;
}

/** Control values come from the build: show them escaped and bounded. */
function quote(v: string): string {
  const s = JSON.stringify(v.length > 80 ? `${v.slice(0, 80)}…` : v);
  return s.slice(1, -1) || "''";
}
