// containers/image "simple signing" (the signature format Fedora's Robosignatory and
// Red Hat use): an OpenPGP signed message whose content is this JSON, naming one
// manifest digest and one docker reference (registry/repository:tag). Stored in a
// lookaside directory as REPOSITORY@sha256=HEX/signature-N. Pure.
import { DIGEST } from './image-ref.ts';

export const SIGNATURE_TYPE = 'atomic container signature';

export interface SimpleSigningPayload {
  critical: {
    type: typeof SIGNATURE_TYPE;
    image: { 'docker-manifest-digest': string };
    identity: { 'docker-reference': string };
  };
  optional: { creator: string; timestamp: number };
}

/** The payload that signs `dockerReference` (host/repo:tag) as naming `digest`. */
export function signaturePayload(dockerReference: string, digest: string, now: Date, creator = 'Kiln'): Uint8Array {
  const p: SimpleSigningPayload = {
    critical: { type: SIGNATURE_TYPE, image: { 'docker-manifest-digest': digest }, identity: { 'docker-reference': dockerReference } },
    optional: { creator, timestamp: Math.floor(now.getTime() / 1000) },
  };
  return new TextEncoder().encode(JSON.stringify(p));
}

/** What a payload names, or undefined when it is not a simple-signing payload. */
export function readPayload(bytes: Uint8Array): { dockerReference: string; digest: string } | undefined {
  try {
    const p = JSON.parse(new TextDecoder().decode(bytes)) as Partial<SimpleSigningPayload>;
    const c = p.critical;
    if (c?.type !== SIGNATURE_TYPE) return undefined;
    const digest = c.image?.['docker-manifest-digest'];
    const dockerReference = c.identity?.['docker-reference'];
    return typeof digest === 'string' && typeof dockerReference === 'string' ? { dockerReference, digest } : undefined;
  } catch {
    return undefined;
  }
}

/** The lookaside directory of one manifest, relative to the lookaside root: REPOSITORY@sha256=HEX. */
export function lookasideDir(repository: string, digest: string): string {
  if (!DIGEST.test(digest)) throw new Error(`not a digest: ${digest}`);
  return `${repository}@${digest.replace(':', '=')}`;
}

/** signature-1, signature-2, …: readers stop at the first missing index. */
export function signatureFileName(index: number): string {
  return `signature-${index}`;
}
