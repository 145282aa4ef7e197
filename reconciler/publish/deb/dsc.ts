// Debian source control files (.dsc): the paragraph (a clearsigned one is
// unwrapped; the signature is not checked here, the archive's Release
// signature is what apt verifies) and the files it lists. Pure.
import { DebFormatError } from '../../../schema/errors.ts';
import { field, parseControlParagraph, type ControlFields } from './control-paragraph.ts';

export interface DscFile {
  name: string;
  size: number;
  sha256?: string;
  md5?: string;
}

export interface Dsc {
  fields: ControlFields;
  source: string;
  version: string;
  /** Every file the .dsc lists (Checksums-Sha256 and Files merged by name), the .dsc itself excluded. */
  files: DscFile[];
}

/** File names a .dsc may list: a pool file name, never a path. */
export const DSC_PART_NAME = /^[A-Za-z0-9][A-Za-z0-9._+~-]*$/;

/** The signed text of a clearsigned .dsc, or the text itself. */
export function unwrapClearsigned(text: string): string {
  const t = text.replace(/\r\n?/g, '\n');
  const m = /^-----BEGIN PGP SIGNED MESSAGE-----\n(?:[^\n]+\n)*\n([\s\S]*?)\n-----BEGIN PGP SIGNATURE-----/.exec(t);
  return m ? m[1].replace(/^- /gm, '') : t;
}

function listed(fields: ControlFields, name: string, hashLength: number, where: string): Map<string, { size: number; hash: string }> {
  const out = new Map<string, { size: number; hash: string }>();
  const value = field(fields, name);
  if (value === undefined) return out;
  for (const line of value.split('\n').slice(1)) {
    const parts = line.trim().split(/\s+/);
    if (parts.length !== 3 || parts[0].length !== hashLength || !/^[0-9a-f]+$/.test(parts[0]) || !/^\d+$/.test(parts[1]) || !DSC_PART_NAME.test(parts[2])) {
      throw new DebFormatError(`${where}: ${name}: malformed line '${line.trim().slice(0, 80)}'`, { file: where, field: name });
    }
    out.set(parts[2], { size: Number(parts[1]), hash: parts[0] });
  }
  return out;
}

/** Parse a .dsc; errors name `where` and the field. */
export function parseDsc(text: string, where: string): Dsc {
  const fields = parseControlParagraph(unwrapClearsigned(text), where);
  const source = field(fields, 'Source')?.trim() ?? '';
  const version = field(fields, 'Version')?.trim() ?? '';
  if (!source) throw new DebFormatError(`${where}: no Source field`, { file: where, field: 'Source' });
  if (!version) throw new DebFormatError(`${where}: no Version field`, { file: where, field: 'Version' });
  const sha = listed(fields, 'Checksums-Sha256', 64, where);
  const md5 = listed(fields, 'Files', 32, where);
  if (sha.size === 0) throw new DebFormatError(`${where}: no Checksums-Sha256 field (apt verifies source files by it)`, { file: where, field: 'Checksums-Sha256' });
  const files: DscFile[] = [];
  for (const name of new Set([...sha.keys(), ...md5.keys()])) {
    const s = sha.get(name);
    const m = md5.get(name);
    if (s && m && s.size !== m.size) throw new DebFormatError(`${where}: ${name} is listed with two sizes (${s.size}, ${m.size})`, { file: where, field: 'Files' });
    files.push({ name, size: (s ?? m)!.size, ...(s ? { sha256: s.hash } : {}), ...(m ? { md5: m.hash } : {}) });
  }
  return { fields, source, version, files };
}

/**
 * Whether binaries of `packageVersion` may come with a source of `sourceVersion`:
 * equal, or a Kiln rebuild of it (`<version>+kilnN`, issue 10's binNMU-style versions).
 */
export function sourceVersionMatches(sourceVersion: string, packageVersion: string): boolean {
  if (sourceVersion === packageVersion) return true;
  const m = /^(.*)\+kiln\d+$/.exec(packageVersion);
  return m !== null && m[1] === sourceVersion;
}

/** What is wrong with a parsed .dsc for the declared source and version; empty when it matches. */
export function dscProblems(where: string, dsc: Dsc, want: { source: string; version: string }): string[] {
  const problems: string[] = [];
  if (dsc.source !== want.source) problems.push(`${where} declares Source: ${JSON.stringify(dsc.source.slice(0, 80))}, not ${want.source}`);
  if (!sourceVersionMatches(dsc.version, want.version)) problems.push(`${where} declares Version: ${JSON.stringify(dsc.version.slice(0, 80))}, not the declared ${want.version}`);
  return problems;
}
