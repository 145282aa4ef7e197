// Apply a registry release: copy each digest from the candidate registry to
// production by digest, which verifies it (never a rebuild, never a re-tag of
// something unverified), point the tags, sign every tag written, prune. The order keeps
// readers safe: a tag moves only once its manifest is in production, and its
// signature is written right after (a consumer requiring signatures refuses the
// tag in between, never accepts a wrong one); then the signatures of tags moved away
// or dropped are withdrawn from the manifests they left, so pointing a tag back by
// hand is refused too. A crash anywhere is repaired by the
// next run (every step is idempotent). Registry trouble throws RegistryError
// (transient): the caller records nothing as published.
import pMap from 'p-map';
import { byDigest, byTag, parseRef, type ImageRef } from './image-ref.ts';
import type { RegistryClient } from './registry-client.ts';
import { planRegistryRelease, recordedInstances, type DesiredTag, type RegistryPlan } from './registry-plan.ts';
import { signTag, withdrawStaleSignatures, type SignedTag, type SignTagOptions, type WithdrawnSignature } from './lookaside.ts';

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
  /** Called before each copy into production (e.g. to put an image index into its source first: it is put only when needed). */
  beforeCopy?: (copy: RegistryPlan['copy'][number]) => Promise<void>;
}

export interface PromoteReport {
  plan: RegistryPlan;
  /** Each desired tag's signature (lookaside-relative file, sha256), and each newly written signature of an index's image for it (`instance`). */
  signatures: Array<SignedTag & { repository: string; tag: string; instance?: string }>;
  /** Signatures withdrawn: tags that no longer point at the manifest they signed. */
  withdrawn: WithdrawnSignature[];
  /** False when production already served exactly the desired tags and every tag was signed. */
  changed: boolean;
}

/** Registry calls in flight at once (each is a skopeo process, mostly waiting on the network). */
export const PROMOTE_CONCURRENCY = 8;

/** What production serves now for the repositories in question. */
export async function observeProduction(client: RegistryClient, production: string, repositories: string[]): Promise<{ repository: string; tags: Record<string, string> }[]> {
  return pMap(
    [...new Set(repositories)].sort(),
    async (repository) => {
      const tags: Record<string, string> = {};
      for (const tag of await client.listTags(production, repository)) {
        const digest = await client.resolveTag({ registry: production, repository, tag });
        if (digest) tags[tag] = digest;
      }
      return { repository, tags };
    },
    { concurrency: PROMOTE_CONCURRENCY },
  );
}

function byRepository<T extends { repository: string }>(items: T[]): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const i of items) {
    const list = out.get(i.repository);
    if (list) list.push(i);
    else out.set(i.repository, [i]);
  }
  return out;
}

/** One repository's share of the plan and of the desired tags. */
interface RepositoryWork {
  repository: string;
  copy: RegistryPlan['copy'];
  setTags: DesiredTag[];
  desired: DesiredTag[];
}

/**
 * One repository's part of the plan, in the safe order: each missing digest is copied straight to
 * the first tag that must point at it (one skopeo process carries the image across and names
 * it: the tag appears only once the manifest is complete), the remaining tags move, then every
 * desired tag is signed, then every other signature in the repository is withdrawn.
 */
async function applyRepository(req: PromoteRequest, work: RepositoryWork): Promise<{ signed: PromoteReport['signatures']; withdrawn: WithdrawnSignature[] }> {
  const { client, endpoints } = req;
  const tagsLeft = [...work.setTags];
  for (const c of work.copy) {
    const origin = c.from ? parseRef(`${c.from}@${c.digest}`) : undefined;
    // A copy by digest checks the source: containers/image refuses a manifest that does not hash to it (DigestMismatchError).
    const source = origin ?? byDigest(endpoints.candidate, c.repository, c.digest);
    const first = tagsLeft.findIndex((t) => t.digest === c.digest);
    const dest = first < 0 ? byDigest(endpoints.production, c.repository, c.digest) : byTag(endpoints.production, c.repository, tagsLeft.splice(first, 1)[0].tag);
    await req.beforeCopy?.(c);
    await client.copy(source, dest);
  }
  for (const t of tagsLeft) await client.setTag(byDigest(endpoints.production, t.repository, t.digest) as ImageRef & { digest: string }, t.tag);
  const signed: PromoteReport['signatures'] = [];
  for (const t of work.desired) {
    const s = await signTag({ registry: endpoints.production, repository: t.repository, tag: t.tag, digest: t.digest }, req.signing);
    signed.push({ repository: t.repository, tag: t.tag, ...s });
    // An index's images, each signed for the tag too (a per-platform pull is judged by them).
    for (const digest of t.instances ?? []) {
      const i = await signTag({ registry: endpoints.production, repository: t.repository, tag: t.tag, digest }, req.signing);
      signed.push({ repository: t.repository, tag: t.tag, ...i, instance: digest });
    }
  }
  const keep = new Map(work.desired.map((t) => [t.tag, new Set([t.digest, ...(t.instances ?? [])])]));
  return { signed, withdrawn: await withdrawStaleSignatures(req.signing.root, endpoints.production, work.repository, keep) };
}

/** The digests of `repository` that stay after a release: desired tags' (and their images'), and whatever any tag names now. */
function inUse(req: PromoteRequest, observed: Awaited<ReturnType<typeof observeProduction>>, repository: string): Set<string> {
  const desired = req.desired.filter((t) => t.repository === repository);
  const tagged = Object.values(observed.find((o) => o.repository === repository)?.tags ?? {});
  return new Set([...desired.flatMap((t) => [t.digest, ...(t.instances ?? [])]), ...tagged]);
}

/**
 * Delete a dropped manifest; when it is an index, then each of its recorded images nothing else
 * uses (no orphans left behind), and only once the index is gone (a registry refusing deletes
 * keeps them all: the index still names them).
 */
async function pruneManifest(client: RegistryClient, production: string, d: { repository: string; digest: string }, images: string[], used: ReadonlySet<string>): Promise<void> {
  if (!(await client.deleteManifest(production, d.repository, d.digest))) return;
  for (const digest of images) if (!used.has(digest)) await client.deleteManifest(production, d.repository, digest);
}

export async function promote(req: PromoteRequest): Promise<PromoteReport> {
  const { client, endpoints } = req;
  const repositories = [...req.desired.map((d) => d.repository), ...(req.recorded ?? []).map((r) => r.repository)];
  const observed = await observeProduction(client, endpoints.production, repositories);
  const plan = planRegistryRelease(req.desired, observed, req.recorded);
  // Repositories are independent: several at once, each in its safe order. A repository no longer
  // desired still gets its signatures withdrawn.
  const [copies, setTags, desired] = [byRepository(plan.copy), byRepository(plan.setTags), byRepository(req.desired)];
  const work = [...new Set(repositories)].sort().map((r) => ({ repository: r, copy: copies.get(r) ?? [], setTags: setTags.get(r) ?? [], desired: desired.get(r) ?? [] }));
  // Every repository's work settles before promote returns or throws (then its first error): a
  // publish retry must not start promote again while an earlier attempt still copies and signs.
  const perRepository = await pMap(work, (w) => applyRepository(req, w), { concurrency: PROMOTE_CONCURRENCY, stopOnError: false }).catch((e: unknown) => {
    throw e instanceof AggregateError && e.errors.length ? e.errors[0] : e;
  });
  const signed = perRepository.flatMap((p) => p.signed);
  const withdrawn = perRepository.flatMap((p) => p.withdrawn);
  // Pruning last: nothing is deleted before every desired tag is in place.
  for (const d of plan.deleteManifests) await pruneManifest(client, endpoints.production, d, recordedInstances(req.recorded ?? [], d), inUse(req, observed, d.repository));
  const changed = plan.copy.length + plan.setTags.length + plan.deleteManifests.length + withdrawn.length > 0 || signed.some((s) => s.written);
  return { plan, signatures: signed, withdrawn, changed };
}
