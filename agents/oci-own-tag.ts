// The name an OCI build gives its image in the agent's Docker until it is pushed:
// `kiln-oci-build:<unix seconds>-<random>`. Its own name, because two builds can
// make the same image ID (the builder's cache, or a build with nothing of its
// own): each drops only its own tag afterwards, never the ID, which would take the
// other's image (or a base's tags) with it. The time in the name lets any agent
// starting on the host tell a tag left by a killed agent from one still in use.
import { randomBytes } from 'node:crypto';

export const OWN_TAG_REPOSITORY = 'kiln-oci-build';
/**
 * A tag older than this is a killed agent's leftover, whoever made it. It is stamped (by the engine's clock)
 * when its build is let into the engine gate; it lives while the build runs (at most 48 h, metadata's
 * timeoutSeconds), its image is pushed, and its untagging waits for the longest build beside it (48 h more).
 */
export const LEFTOVER_AFTER_MS = 7 * 24 * 3600 * 1000;

export function ownBuildTag(now = Date.now()): string {
  return `${OWN_TAG_REPOSITORY}:${Math.floor(now / 1000)}-${randomBytes(12).toString('hex')}`;
}

/** Whether `tag` (repository:tag) is a build's own tag, of this version of Kiln or an older one. */
export function isOwnTag(tag: string): boolean {
  return tag.startsWith(`${OWN_TAG_REPOSITORY}:`);
}

/** Own tags of agents from before tags carried their time: `kiln-oci-build:<24 hex>`, any of them a leftover by now. */
const UNTIMED = new RegExp(`^${OWN_TAG_REPOSITORY}:[0-9a-f]{24}$`);
const TIMED = new RegExp(`^${OWN_TAG_REPOSITORY}:(\\d{9,})-[0-9a-f]+$`);

/** Whether `tag` (repository:tag) is an own build tag older than LEFTOVER_AFTER_MS, or an untimed one. Other names: false. */
export function isStaleOwnTag(tag: string, now = Date.now()): boolean {
  if (UNTIMED.test(tag)) return true;
  const m = TIMED.exec(tag);
  return m !== null && now - Number(m[1]) * 1000 > LEFTOVER_AFTER_MS;
}
