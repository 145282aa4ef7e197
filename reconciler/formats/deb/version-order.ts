// Debian version ordering (dpkg's verrevcmp, Debian policy 5.6.12): used by the
// keep policy to decide which published versions are the newest. The split into
// epoch, upstream and revision is the one validation uses.
import { parseDebianVersion, type DebianVersion } from './debian-version.ts';

/** Versions reaching the planner were validated when read; an invalid one still orders, as all upstream. */
function split(v: string): DebianVersion {
  const p = parseDebianVersion(v);
  return p.ok ? p : { epoch: 0, upstream: v, revision: '' };
}

const isDigit = (c: string | undefined) => c !== undefined && c >= '0' && c <= '9';
const isLetter = (c: string) => /[A-Za-z]/.test(c);

/** dpkg's character weight: '~' sorts before everything, even the end of the string. */
function order(c: string | undefined): number {
  if (c === undefined || isDigit(c)) return 0;
  if (isLetter(c)) return c.charCodeAt(0);
  if (c === '~') return -1;
  return c.charCodeAt(0) + 256;
}

function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const d = order(a[i]) - order(b[j]);
      if (d !== 0) return d;
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    let firstDiff = 0;
    while (isDigit(a[i]) && isDigit(b[j])) {
      if (firstDiff === 0) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a[i])) return 1;
    if (isDigit(b[j])) return -1;
    if (firstDiff !== 0) return firstDiff;
  }
  return 0;
}

/** Negative when a < b, 0 when equal, positive when a > b. */
export function compareDebianVersions(a: string, b: string): number {
  const pa = split(a);
  const pb = split(b);
  if (pa.epoch !== pb.epoch) return pa.epoch - pb.epoch;
  return verrevcmp(pa.upstream, pb.upstream) || verrevcmp(pa.revision, pb.revision);
}
