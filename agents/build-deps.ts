// Build-Depends of a Debian source package: a small pure parser of
// debian/control's source paragraph, evaluation of [arch] and <profile>
// restrictions, and the cache key of the image that has them installed.
import { createHash } from 'node:crypto';
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

/** Implied by every Debian build environment (dpkg-checkbuilddeps assumes it too). */
export const IMPLICIT_DEPS: ReadonlySet<string> = new Set(['build-essential']);

const FIELDS = ['Build-Depends', 'Build-Depends-Arch', 'Build-Depends-Indep'];
const NAME = /^[a-z0-9][a-z0-9+.-]+(:[a-z0-9-]+)?$/;
const VERSION = /^[A-Za-z0-9.+~:-]+$/;
const OPS = new Set(['<<', '<=', '=', '>=', '>>']);

/** The Build-Depends* fields of the first (source) paragraph, with the line each starts on. */
function sourceFields(control: string): { field: string; value: string; line: number }[] {
  const out: { field: string; value: string; line: number }[] = [];
  let current: { field: string; value: string; line: number } | undefined;
  const lines = control.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i].replace(/\r$/, '');
    if (l.startsWith('#')) continue;
    if (l.trim() === '') {
      if (current || out.length) break; // end of the source paragraph
      continue;
    }
    if (/^\s/.test(l)) {
      if (current) current.value += ' ' + l.trim();
      continue;
    }
    const m = /^([A-Za-z0-9-]+):(.*)$/.exec(l);
    current = undefined;
    if (m && FIELDS.some((f) => f.toLowerCase() === m[1].toLowerCase())) {
      current = { field: m[1], value: m[2].trim(), line: i + 1 };
      out.push(current);
    }
  }
  return out;
}

function parseAlternative(text: string, where: { file: string; line: number; field: string }): Alternative {
  const fail = (why: string) => {
    throw new BuildDepsError(`${where.file}:${where.line}: ${where.field}: ${why} in '${text}'`, { ...where, text });
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

/** Parse debian/control's Build-Depends, -Arch and -Indep into relations. Throws BuildDepsError naming file:line. */
export function parseBuildDepends(control: string, file = 'debian/control'): Relation[] {
  const relations: Relation[] = [];
  for (const { field, value, line } of sourceFields(control)) {
    for (const rel of value.split(',')) {
      if (rel.trim() === '') continue;
      relations.push(rel.split('|').map((a) => parseAlternative(a, { file, line, field })));
    }
  }
  return relations;
}

function archApplies(alt: Alternative, arch: string): boolean {
  if (!alt.arches || alt.arches.length === 0) return true;
  const negated = alt.arches.every((a) => a.startsWith('!'));
  const listed = alt.arches.map((a) => a.replace(/^!/, '')).some((a) => a === arch || a === 'any' || a === `linux-${arch}` || a === `any-${arch}`);
  return negated ? !listed : listed;
}

function profilesApply(alt: Alternative, active: ReadonlySet<string>): boolean {
  if (!alt.profiles) return true;
  return alt.profiles.some((group) => group.every((t) => (t.startsWith('!') ? !active.has(t.slice(1)) : active.has(t))));
}

function format(alt: Alternative): string {
  return alt.version ? `${alt.name} (${alt.version.op} ${alt.version.version})` : alt.name;
}

/**
 * The relations that apply when building for `arch` with `profiles` active (minus
 * build-essential), each formatted the way `apt-get satisfy` and
 * `dpkg-checkbuilddeps -d` read it. Sorted and de-duplicated, so it can be hashed.
 */
export function applicableBuildDeps(relations: Relation[], arch: string, profiles: readonly string[] = []): string[] {
  const active = new Set(profiles);
  const out = new Set<string>();
  for (const rel of relations) {
    const alts = rel.filter((a) => archApplies(a, arch) && profilesApply(a, active));
    if (alts.length === 0) continue;
    if (alts.length === 1 && IMPLICIT_DEPS.has(alts[0].name)) continue;
    out.add(alts.map(format).join(' | '));
  }
  return [...out].sort();
}

/** The tag of the cached image that is `baseImageId` plus `deps` installed. */
export function depsImageTag(deps: readonly string[], baseImageId: string): string {
  const h = createHash('sha256').update(JSON.stringify({ deps: [...deps].sort(), base: baseImageId })).digest('hex');
  return `kiln-deps:${h}`;
}
