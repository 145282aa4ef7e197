// Image references as Kiln writes them: registry host, repository path, and a
// tag or a digest. Pure. Kiln only ever pulls, copies and verifies by digest;
// tags are names it writes (and signs) after the digest is verified.
import { PublishInputError } from '../schema/errors.ts';
import { printable } from '../schema/quote.ts';

export const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** distribution's reference grammar, simplified: lower-case path components. */
const REPOSITORY = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
const TAG = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;
const HOST = /^[A-Za-z0-9.-]+(?::[0-9]{1,5})?$/;

export interface ImageRef {
  /** host[:port] */
  registry: string;
  repository: string;
  tag?: string;
  digest?: string;
}

function check(ok: boolean, what: string, value: string): void {
  if (!ok) throw new PublishInputError(`not a valid ${what}: ${printable(value)}`, { [what]: value });
}

export function isDigest(s: string): boolean {
  return DIGEST.test(s);
}

/** A reference by digest: registry/repository@sha256:… */
export function byDigest(registry: string, repository: string, digest: string): ImageRef {
  check(HOST.test(registry), 'registry', registry);
  check(REPOSITORY.test(repository), 'repository', repository);
  check(DIGEST.test(digest), 'digest', digest);
  return { registry, repository, digest };
}

/** A reference by tag: registry/repository:tag */
export function byTag(registry: string, repository: string, tag: string): ImageRef {
  check(HOST.test(registry), 'registry', registry);
  check(REPOSITORY.test(repository), 'repository', repository);
  check(TAG.test(tag), 'tag', tag);
  return { registry, repository, tag };
}

/** The reference in Docker's notation (digest wins over tag). */
export function formatRef(ref: ImageRef): string {
  const name = `${ref.registry}/${ref.repository}`;
  if (ref.digest) return `${name}@${ref.digest}`;
  return ref.tag ? `${name}:${ref.tag}` : name;
}

/** Parse `host[:port]/repo[:tag|@digest]`; Kiln's references always name their registry host. */
export function parseRef(s: string): ImageRef {
  const slash = s.indexOf('/');
  check(slash > 0, 'image reference', s);
  const registry = s.slice(0, slash);
  const rest = s.slice(slash + 1);
  const at = rest.indexOf('@');
  if (at >= 0) return byDigest(registry, rest.slice(0, at), rest.slice(at + 1));
  const colon = rest.lastIndexOf(':');
  if (colon >= 0) return byTag(registry, rest.slice(0, colon), rest.slice(colon + 1));
  check(HOST.test(registry), 'registry', registry);
  check(REPOSITORY.test(rest), 'repository', rest);
  return { registry, repository: rest };
}
