// rpm's version order (rpmio/rpmvercmp.c, rpm 4.18), for Kiln's `[E:]V-R`
// version strings: epoch as a number, then version, then release, each by
// rpmvercmp. A port, because the planner orders versions many times a pass and
// no kept npm library does it; test/unit/rpm-version-order.test.ts checks it
// against rpm's own rpm.vercmp on a table.

const isDigit = (c: string) => c >= '0' && c <= '9';
const isAlpha = (c: string) => (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
const isAlnum = (c: string) => isDigit(c) || isAlpha(c);

/** rpmvercmp: negative when a < b, 0 when equal, positive when a > b. */
export function rpmvercmp(a: string, b: string): number {
  if (a === b) return 0;
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while (i < a.length && !isAlnum(a[i]) && a[i] !== '~' && a[i] !== '^') i++;
    while (j < b.length && !isAlnum(b[j]) && b[j] !== '~' && b[j] !== '^') j++;
    // A tilde sorts before anything, even the end of the string.
    if (a[i] === '~' || b[j] === '~') {
      if (a[i] !== '~') return 1;
      if (b[j] !== '~') return -1;
      i++;
      j++;
      continue;
    }
    // A caret sorts after the end of the string, before anything else.
    if (a[i] === '^' || b[j] === '^') {
      if (i >= a.length) return -1;
      if (j >= b.length) return 1;
      if (a[i] !== '^') return 1;
      if (b[j] !== '^') return -1;
      i++;
      j++;
      continue;
    }
    if (!(i < a.length && j < b.length)) break;
    const num = isDigit(a[i]);
    const same = num ? isDigit : isAlpha;
    let e1 = i;
    let e2 = j;
    while (e1 < a.length && same(a[e1])) e1++;
    while (e2 < b.length && same(b[e2])) e2++;
    // Segments of different kinds: a number is newer than letters.
    if (e2 === j) return num ? 1 : -1;
    let s1 = a.slice(i, e1);
    let s2 = b.slice(j, e2);
    if (num) {
      s1 = s1.replace(/^0+/, '');
      s2 = s2.replace(/^0+/, '');
      if (s1.length !== s2.length) return s1.length > s2.length ? 1 : -1;
    }
    if (s1 !== s2) return s1 < s2 ? -1 : 1;
    i = e1;
    j = e2;
  }
  if (i >= a.length && j >= b.length) return 0;
  return i >= a.length ? -1 : 1;
}

export interface Evr {
  epoch: number;
  version: string;
  release: string;
}

/** `[E:]V[-R]` split the way rpm does: the epoch before the first ':', the release after the last '-'. */
export function parseEvr(s: string): Evr {
  const colon = s.indexOf(':');
  const epoch = colon > 0 && /^\d+$/.test(s.slice(0, colon)) ? Number(s.slice(0, colon)) : 0;
  const rest = colon > 0 ? s.slice(colon + 1) : s;
  const dash = rest.lastIndexOf('-');
  return dash > 0 ? { epoch, version: rest.slice(0, dash), release: rest.slice(dash + 1) } : { epoch, version: rest, release: '' };
}

export function compareEvr(a: string, b: string): number {
  const x = parseEvr(a);
  const y = parseEvr(b);
  if (x.epoch !== y.epoch) return x.epoch < y.epoch ? -1 : 1;
  return rpmvercmp(x.version, y.version) || (x.release && y.release ? rpmvercmp(x.release, y.release) : 0);
}

/** Why `v` is not a Kiln rpm version (`[E:]V-R`, no spaces), or undefined. */
export function rpmVersionProblem(v: string): string | undefined {
  if (!/^(\d+:)?[A-Za-z0-9._+~^]+-[A-Za-z0-9._+~^]+$/.test(v)) return `'${v}' is not an rpm version: expected [EPOCH:]VERSION-RELEASE, e.g. 1.0-1`;
  return undefined;
}
