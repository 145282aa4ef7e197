// Apply a registry release: verify each digest in the candidate registry, copy it
// to production by digest (never a rebuild, never a re-tag of something
// unverified), point the tags, sign every tag written, prune. The order keeps
// readers safe: a tag moves only once its manifest is in production, and its
// signature is written right after (a consumer requiring signatures refuses the
// tag in between, never accepts a wrong one). A crash anywhere is repaired by the
// next run (every step is idempotent). Registry trouble throws RegistryError
// (transient): the caller records nothing as published.
import { byDigest, parseRef, type ImageRef } from './image-ref.ts';
import type { RegistryClient } from './registry-client.ts';
import { planRegistryRelease, type DesiredTag, type RegistryPlan } from './registry-plan.ts';
import { signTag, type SignTagOptions } from './lookaside.ts';

export interface RegistryEndpoints {
  /** host[:port] of the candidate registry (where agents push). */
  candidate: string;
  /** host[:port] of the production registry, as consumers name it (signatures name this host). */
  production: string;
}

export interface PromoteRequest {
  client: RegistryClient;
  endpoints: RegistryEndpoints;
  /** The complete desired content: tags not listed are pruned. */
  desired: DesiredTag[];
  /** What was last recorded (drift detection). */
  recorded?: DesiredTag[];
  signing: SignTagOptions;
}

export interface PromoteReport {
  plan: RegistryPlan;
  /** Signature files written (lookaside-relative). */
  signatures: string[];
  /** False when production already served exactly the desired tags and every tag was signed. */
  changed: boolean;
}

/** What production serves now for the repositories in question. */
export async function observeProduction(client: RegistryClient, production: string, repositories: string[]): Promise<{ repository: string; tags: Record<string, string> }[]> {
  const out: { repository: string; tags: Record<string, string> }[] = [];
  for (const repository of [...new Set(repositories)].sort()) {
    const tags: Record<string, string> = {};
    for (const tag of await client.listTags(production, repository)) {
      const digest = await client.resolveTag({ registry: production, repository, tag });
      if (digest) tags[tag] = digest;
    }
    out.push({ repository, tags });
  }
  return out;
}

export async function promote(req: PromoteRequest): Promise<PromoteReport> {
  const { client, endpoints } = req;
  const repositories = [...req.desired.map((d) => d.repository), ...(req.recorded ?? []).map((r) => r.repository)];
  const plan = planRegistryRelease(req.desired, await observeProduction(client, endpoints.production, repositories), req.recorded);
  for (const c of plan.copy) {
    const origin = c.from ? parseRef(`${c.from}@${c.digest}`) : undefined;
    const source = origin ?? byDigest(endpoints.candidate, c.repository, c.digest);
    await client.inspect(source); // the candidate must serve exactly this digest (DigestMismatchError otherwise)
    await client.copy(source, byDigest(endpoints.production, c.repository, c.digest));
  }
  for (const t of plan.setTags) await client.setTag(byDigest(endpoints.production, t.repository, t.digest) as ImageRef & { digest: string }, t.tag);
  const signatures: string[] = [];
  let signedNew = false;
  for (const t of req.desired) {
    const s = await signTag({ registry: endpoints.production, repository: t.repository, tag: t.tag, digest: t.digest }, req.signing);
    signatures.push(s.file);
    signedNew ||= s.written;
  }
  for (const d of plan.deleteManifests) await client.deleteManifest(endpoints.production, d.repository, d.digest);
  const changed = plan.copy.length + plan.setTags.length + plan.deleteManifests.length > 0 || signedNew;
  return { plan, signatures, changed };
}
