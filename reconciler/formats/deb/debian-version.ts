// Debian version syntax, Debian Policy 5.6.12: [epoch:]upstream_version[-debian_revision].
// Pure: used by the semantic rules and by anyone who needs to split a version.
import { quote } from '../../../schema/quote.ts';

export interface DebianVersion {
  epoch: number;
  upstream: string;
  /** Empty for native packages (no hyphen). */
  revision: string;
}

export type ParsedVersion = ({ ok: true } & DebianVersion) | { ok: false; reason: string };

const UPSTREAM_WITH_REVISION = /^[A-Za-z0-9.+~-]+$/;
const UPSTREAM_NATIVE = /^[A-Za-z0-9.+~]+$/;
const REVISION = /^[A-Za-z0-9.+~]+$/;

/** Parse a Debian version, or say which rule it breaks. */
export function parseDebianVersion(version: string): ParsedVersion {
  if (version.length === 0) return { ok: false, reason: 'a version cannot be empty' };
  if (/\s/.test(version)) return { ok: false, reason: 'a version cannot contain whitespace' };
  let rest = version;
  let epoch = 0;
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const e = rest.slice(0, colon);
    if (!/^[0-9]+$/.test(e)) return { ok: false, reason: `the epoch ${quote(e)} (before ':') must be a non-negative integer` };
    epoch = Number(e);
    if (!Number.isSafeInteger(epoch) || epoch > 2147483647) return { ok: false, reason: `the epoch ${quote(e)} is too large` };
    rest = rest.slice(colon + 1);
    if (rest.includes(':')) return { ok: false, reason: "only one ':' is allowed (it separates the epoch)" };
  }
  const hyphen = rest.lastIndexOf('-');
  const upstream = hyphen >= 0 ? rest.slice(0, hyphen) : rest;
  const revision = hyphen >= 0 ? rest.slice(hyphen + 1) : '';
  if (hyphen >= 0 && revision === '') return { ok: false, reason: "the Debian revision after the last '-' cannot be empty" };
  if (upstream === '') return { ok: false, reason: 'the upstream version cannot be empty' };
  if (!/^[0-9]/.test(upstream)) return { ok: false, reason: `the upstream version ${quote(upstream)} must start with a digit` };
  const allowed = hyphen >= 0 ? UPSTREAM_WITH_REVISION : UPSTREAM_NATIVE;
  if (!allowed.test(upstream)) {
    const bad = [...upstream].find((c) => !/[A-Za-z0-9.+~-]/.test(c));
    return { ok: false, reason: `the upstream version ${quote(upstream)} may only contain letters, digits and . + ~ -${bad ? ` (found ${quote(bad)})` : ''}` };
  }
  if (hyphen >= 0 && !REVISION.test(revision)) {
    return { ok: false, reason: `the Debian revision ${quote(revision)} may only contain letters, digits and . + ~` };
  }
  return { ok: true, epoch, upstream, revision };
}

/** undefined when valid, else why not. */
export function debianVersionProblem(version: string): string | undefined {
  const p = parseDebianVersion(version);
  return p.ok ? undefined : p.reason;
}
