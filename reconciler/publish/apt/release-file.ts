// The Release file of a suite. Pure: the caller gives the time and the index
// digests; signing happens elsewhere.
import type { AptDistribution } from '../../model.ts';
import type { Digests } from './hashes.ts';

export interface IndexDigest extends Digests {
  /** Relative to dists/<suite>, e.g. main/binary-amd64/Packages.gz. */
  path: string;
}

/** RFC 2822 date in UTC, as apt writes it. */
export function releaseDate(d: Date): string {
  return d.toUTCString().replace(/GMT$/, 'UTC');
}

export interface ReleaseInput {
  dist: Pick<AptDistribution, 'origin' | 'label' | 'suite' | 'codename' | 'description' | 'validForDays'>;
  architectures: string[];
  components: string[];
  indexes: IndexDigest[];
  date: Date;
}

function sums(indexes: IndexDigest[], key: 'md5' | 'sha256'): string {
  return indexes.map((i) => ` ${i[key]} ${String(i.size).padStart(16)} ${i.path}`).join('\n');
}

/** Release text without the time-dependent fields: equal texts mean nothing to re-sign for. */
export function releaseBody(input: Omit<ReleaseInput, 'date'>): string {
  const idx = [...input.indexes].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const desc = (input.dist.description ?? '').replace(/\s*\n\s*/g, ' ').trim();
  return [
    `Architectures: ${input.architectures.join(' ')}`,
    `Components: ${input.components.join(' ')}`,
    ...(desc ? [`Description: ${desc}`] : []),
    'Acquire-By-Hash: yes',
    'MD5Sum:',
    sums(idx, 'md5'),
    'SHA256:',
    sums(idx, 'sha256'),
  ]
    .filter((l) => l !== '')
    .join('\n');
}

export function releaseText(input: ReleaseInput): string {
  const { dist, date } = input;
  const head = [`Origin: ${dist.origin}`, `Label: ${dist.label}`, `Suite: ${dist.suite}`, `Codename: ${dist.codename}`, `Date: ${releaseDate(date)}`];
  if (dist.validForDays) head.push(`Valid-Until: ${releaseDate(new Date(date.getTime() + dist.validForDays * 86_400_000))}`);
  return head.join('\n') + '\n' + releaseBody(input) + '\n';
}

/** Re-date an existing Release text (key renewal): a new Date, and Valid-Until moved by the same validity period. */
export function redateRelease(text: string, date: Date): string {
  const lines = text.split('\n');
  const get = (name: string) => lines.find((l) => l.startsWith(name + ':'))?.slice(name.length + 1).trim();
  const oldDate = get('Date');
  const oldUntil = get('Valid-Until');
  const period = oldDate && oldUntil ? Date.parse(oldUntil.replace(/UTC$/, 'GMT')) - Date.parse(oldDate.replace(/UTC$/, 'GMT')) : NaN;
  return lines
    .map((l) => {
      if (l.startsWith('Date:')) return `Date: ${releaseDate(date)}`;
      if (l.startsWith('Valid-Until:') && Number.isFinite(period)) return `Valid-Until: ${releaseDate(new Date(date.getTime() + period))}`;
      return l;
    })
    .join('\n');
}
