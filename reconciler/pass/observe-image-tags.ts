// Base images named by tag (`from: HOST/REPO:TAG`): the digest each tag points at
// now, read from its registry (with the candidate registry's client) on the same
// cadence as source refs, so a moved tag is a new build input the way a moved
// source branch is. A tag that is missing or a registry that is down is a reason
// for the image to wait (retried every pass until it resolves), not a failure of
// the pass.
import type { Logger } from 'pino';
import { parseRef } from '../../oci/image-ref.ts';
import type { RegistryAuth } from '../../oci/registry-auth.ts';
import { RegistryClient } from '../../oci/registry-client.ts';
import { baseTags } from '../desired/base-tags.ts';
import type { DesiredState, ObservedState } from '../model.ts';

/** A tag that did not resolve is looked up again this soon (the wait's end wakes the next pass). */
const RETRY_MS = 5_000;

export type ImageTags = NonNullable<ObservedState['imageTags']>;

export interface ImageTagsMemo {
  at: number;
  tags: ImageTags;
}

/** The digests of the desired state's base tags; looked up again after refreshMs, failed lookups every time. */
export async function observeImageTags(
  desired: DesiredState,
  opts: { client?: RegistryClient; memo?: ImageTagsMemo; now: Date; refreshMs: number; log?: Logger; auth?: RegistryAuth },
): Promise<ImageTagsMemo | undefined> {
  const refs = baseTags(desired);
  if (refs.length === 0) return undefined;
  // Without the candidate's client (kiln plan): plain http for loopback registries only.
  const clientFor = (host: string) => opts.client ?? new RegistryClient({ tlsVerify: !/^(127\.0\.0\.1|localhost)(:|$)/.test(host), auth: opts.auth });
  const fresh = opts.memo && opts.now.getTime() - opts.memo.at < opts.refreshMs;
  const tags: ImageTags = new Map();
  const retryAt = new Date(opts.now.getTime() + RETRY_MS).toISOString();
  for (const ref of refs) {
    const known = fresh ? opts.memo!.tags.get(ref) : undefined;
    if (known && 'digest' in known) {
      tags.set(ref, known);
      continue;
    }
    try {
      const parsed = parseRef(ref);
      const digest = await clientFor(parsed.registry).resolveTag(parsed);
      tags.set(ref, digest ? { digest } : { error: 'the registry has no such tag', retryAt });
    } catch (e) {
      // The image's wait says why (skopeo's own log line after ': time=' is kept for the debug log).
      opts.log?.debug({ ref, err: (e as Error).message }, 'could not resolve a base image tag');
      tags.set(ref, { error: (e as Error).message.split('\n')[0].split(': time=')[0], retryAt });
    }
  }
  return { at: fresh ? opts.memo!.at : opts.now.getTime(), tags };
}

/** `observed` with the desired state's base tags resolved now: what a plan made outside a pass (kiln plan, kiln builds, the API) needs to match the pass's. */
export async function withImageTagsNow(desired: DesiredState, observed: ObservedState, log?: Logger, auth?: RegistryAuth): Promise<ObservedState> {
  const seen = await observeImageTags(desired, { now: new Date(), refreshMs: 0, log, auth });
  return seen ? { ...observed, imageTags: seen.tags } : observed;
}
