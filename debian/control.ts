// debian/control, pure: the paragraphs (deb822), the source paragraph's
// Build-Depends / -Arch / -Indep relations (Debian Policy 7.1: alternatives `|`,
// version constraints, [arch] and <profile> restrictions) and the binary
// packages the source produces. Neutral: agents/ and reconciler/ both use it.
import { BuildDepsError } from '../schema/errors.ts';

export interface Alternative {
  name: string;
  /** e.g. { op: '>=', version: '1.2' } */
  version?: { op: string; version: string };
  /** Architecture restriction list, e.g. ['amd64'] or ['!armel']. */
  arches?: string[];
  /** Build-profile restriction formula, e.g. [['!nocheck'], ['cross']]. */
  profiles?: string[][];
}
/** One comma-separated relation: any one of its alternatives satisfies it. */
export type Relation = Alternative[];

export interface ControlField {
  field: string;
  value: string;
  /** 1-based line the field starts on. */
  line: number;
}

/** One deb822 paragraph: its fields in order, with the line of each. */
export type Paragraph = ControlField[];

export const BUILD_DEPENDS_FIELDS = ['Build-Depends', 'Build-Depends-Arch', 'Build-Depends-Indep'] as const;
const NAME = /^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$/;
const VERSION = /^[A-Za-z0-9.+~:-]+$/;
const OPS = new Set(['<<', '<=', '=', '>=', '>>']);

/** Split control text into paragraphs (comments skipped, continuation lines folded). */
export function paragraphs(control: string): Paragraph[] {
  const out: Paragraph[] = [];
  let para: Paragraph = [];
  let current: ControlField | undefined;
  const lines = control.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i].replace(/\r$/, '');
    if (l.startsWith('#')) continue;
    if (l.trim() === '') {
      if (para.length) out.push(para);
      para = [];
      current = undefined;
      continue;
    }
    if (/^\s/.test(l)) {
      if (current) current.value += ' ' + l.trim();
      continue;
    }
    const m = /^([A-Za-z0-9-]+):(.*)$/.exec(l);
    current = m ? { field: m[1], value: m[2].trim(), line: i + 1 } : undefined;
    if (current) para.push(current);
  }
  if (para.length) out.push(para);
  return out;
}

export const fieldOf = (p: Paragraph, name: string): ControlField | undefined => p.find((f) => f.field.toLowerCase() === name.toLowerCase());

function parseAlternative(text: string, where: { file: string; line: number; field: string }): Alternative {
  const fail = (why: string) => {
    throw new BuildDepsError(`${where.file}:${where.line}: ${where.field}: ${why} in '${text.trim()}'`, { ...where, text });
  };
  let rest = text.trim();
  const nameMatch = /^([^\s([<]+)/.exec(rest);
  if (!nameMatch) fail('expected a package name');
  const alt: Alternative = { name: nameMatch![1] };
  if (!NAME.test(alt.name)) fail(`'${alt.name}' is not a valid package name`);
  rest = rest.slice(alt.name.length).trim();
  const ver = /^\(\s*(<<|<=|=|>=|>>|<|>)\s*([^)\s]+)\s*\)/.exec(rest);
  if (ver) {
    if (!OPS.has(ver[1])) fail(`unsupported version operator '${ver[1]}'`);
    if (!VERSION.test(ver[2])) fail(`'${ver[2]}' is not a valid version`);
    alt.version = { op: ver[1], version: ver[2] };
    rest = rest.slice(ver[0].length).trim();
  }
  const arch = /^\[([^\]]*)\]/.exec(rest);
  if (arch) {
    alt.arches = arch[1].trim().split(/\s+/).filter(Boolean);
    rest = rest.slice(arch[0].length).trim();
  }
  while (rest.startsWith('<')) {
    const p = /^<([^>]*)>/.exec(rest);
    if (!p) fail('unterminated <profile> restriction');
    (alt.profiles ??= []).push(p![1].trim().split(/\s+/).filter(Boolean));
    rest = rest.slice(p![0].length).trim();
  }
  if (rest !== '') fail(`unexpected '${rest}'`);
  return alt;
}

/** Parse one relation field's value (comma-separated, `|` alternatives). Throws BuildDepsError naming file:line. */
export function parseRelations(value: string, where: { file: string; line: number; field: string }): Relation[] {
  const relations: Relation[] = [];
  for (const rel of value.split(',')) {
    if (rel.trim() === '') continue;
    relations.push(rel.split('|').map((a) => parseAlternative(a, where)));
  }
  return relations;
}

/** Parse debian/control's Build-Depends, -Arch and -Indep into relations. Throws BuildDepsError naming file:line. */
export function parseBuildDepends(control: string, file = 'debian/control'): Relation[] {
  const source = paragraphs(control)[0] ?? [];
  return source
    .filter((f) => BUILD_DEPENDS_FIELDS.some((n) => n.toLowerCase() === f.field.toLowerCase()))
    .flatMap((f) => parseRelations(f.value, { file, line: f.line, field: f.field }));
}

export interface BinaryPackage {
  name: string;
  /** The Architecture field as written, e.g. ['any'] or ['all']. */
  architectures: string[];
  line: number;
}

/** The binary paragraphs (every paragraph after the source one with a Package field). */
export function parseBinaries(control: string, file = 'debian/control'): BinaryPackage[] {
  return paragraphs(control)
    .slice(1)
    .flatMap((p) => {
      const pkg = fieldOf(p, 'Package');
      if (!pkg) return [];
      if (!NAME.test(pkg.value)) throw new BuildDepsError(`${file}:${pkg.line}: Package: '${pkg.value}' is not a valid package name`, { file, line: pkg.line, field: 'Package' });
      const arch = fieldOf(p, 'Architecture');
      return [{ name: pkg.value, architectures: (arch?.value ?? 'any').split(/\s+/).filter(Boolean), line: pkg.line }];
    });
}

/** Does an [arch] restriction admit `arch`? */
export function archApplies(alt: Alternative, arch: string): boolean {
  if (!alt.arches || alt.arches.length === 0) return true;
  const negated = alt.arches.every((a) => a.startsWith('!'));
  const listed = alt.arches.map((a) => a.replace(/^!/, '')).some((a) => a === arch || a === 'any' || a === `linux-${arch}` || a === `any-${arch}`);
  return negated ? !listed : listed;
}

/** Does a <profile> formula admit the `active` build profiles? */
export function profilesApply(alt: Alternative, active: ReadonlySet<string>): boolean {
  if (!alt.profiles) return true;
  return alt.profiles.some((group) => group.every((t) => (t.startsWith('!') ? !active.has(t.slice(1)) : active.has(t))));
}
