// The registry release target: a distribution is a set of tags in an OCI registry
// (dist.url, under the dist.repository prefix). A release copies each image by
// digest from where its build pushed it (the candidate registry, named in the
// unit's image.json), points the tags, signs every tag ("simple signing", in the
// lookaside dir ROOT/<dist>/sigstore that kiln serve serves), prunes what the
// desired state dropped, and writes ROOT/<dist>/tags.json (signed; the change
// marker and the base of drift checks). The promotion gate is image-test. A version
// built for several architectures is released as one image index (version-images.ts):
// its tags point at the index, and are signed on it and on each of its images.
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { DigestMismatchError, GateInfraError, PublishInputError } from '../../../schema/errors.ts';
import type { ImageIndexRecord, PublishedTags } from '../../../schema/oci.ts';
import { describeManifest, type RegistryClient } from '../../../oci/registry-client.ts';
import { signedReferences, signTag } from '../../../oci/lookaside.ts';
import pMap from 'p-map';
import { promote, PROMOTE_CONCURRENCY } from '../../../oci/promote.ts';
import { readPublishedTags, resignPublishedTags, TAGS_FILE, writePublishedTags } from '../../../oci/published-tags.ts';
import { recordedInstances, type DesiredTag } from '../../../oci/registry-plan.ts';
import { renderTag } from '../../../oci/tag-template.ts';
import { runImageTestGate, runImageTestGateEach } from '../../gate/image-test.ts';
import { byDigest } from '../../../oci/image-ref.ts';
import { entryPlatform, indexManifests } from '../../../oci/image-index.ts';
import { configPlatformString } from '../../../oci/platform.ts';
import { ociFormat } from '../../formats/oci/oci-format.ts';
import type { RegistryDistribution } from '../../model.ts';
import type { Signer } from '../../signing/signer.ts';
import type { ReleaseTarget, ReleaseUnit } from '../target.ts';
import { clientFor } from './registry-access.ts';
import { putIndexFor, versionImages, type VersionImage } from './version-images.ts';

export const SIGSTORE_DIR = 'sigstore';
const repositoryOf = (dist: RegistryDistribution, name: string) => (dist.repository ? `${dist.repository}/${name}` : name);

/**
 * Each version's tags from its package's templates (default `{version}`; `{build}`: the build key's
 * first 12 digits), pointing at its image, or at its image index when it was built for several
 * architectures (version-images.ts). Versions go oldest first, so a tag two versions render
 * (`latest`) names the newest.
 */
async function desiredTags(client: RegistryClient, dist: RegistryDistribution, units: ReleaseUnit[]): Promise<{ tags: Array<DesiredTag & { package: string; version: string }>; indexes: ImageIndexRecord[]; images: VersionImage[] }> {
  const out = new Map<string, DesiredTag & { package: string; version: string }>();
  const ordered = [...units].sort((a, b) => a.name.localeCompare(b.name) || ociFormat.compareVersions(a.version, b.version));
  const images = await versionImages(client, ordered);
  for (const v of images) {
    const repository = repositoryOf(dist, v.name);
    for (const template of v.tagTemplates ?? ['{version}']) {
      const tag = renderTag(template, { version: v.version, build: (v.build ?? '').slice(0, 12) });
      const instances = v.index ? { instances: Object.values(v.index.manifests) } : {};
      out.set(`${repository}:${tag}`, { repository, tag, digest: v.digest, from: v.from, package: v.name, version: v.version, ...instances });
    }
  }
  return { tags: [...out.values()], indexes: images.flatMap((v) => (v.index ? [v.index] : [])), images };
}

/** A stale tag with its images as recorded for its digest (tags.json `instances`), when it is an index. */
function withInstances(t: { repository: string; tag: string; digest: string }, recorded: DesiredTag[]): { repository: string; tag: string; digest: string; instances?: string[] } {
  const instances = recordedInstances(recorded, t);
  return instances.length ? { ...t, instances } : t;
}

const signing = (root: string, name: string, signer: Signer, now: Date) => ({
  root: join(root, name, SIGSTORE_DIR),
  sign: (p: Uint8Array) => signer.signMessage(p),
  publicKeyArmored: signer.publicKeyArmored,
  now,
});

export const registryTarget: ReleaseTarget<RegistryDistribution> = {
  name: 'registry',
  packageFormats: ['oci'],
  async apply(req) {
    const dist = req.distribution;
    const distDir = join(req.root, dist.name);
    const client = clientFor(dist, req.registryAuth);
    const { tags: desired, indexes, images } = await desiredTags(client, dist, req.units);
    const before = (await readPublishedTags(distDir))?.tags;
    // Kiln's own tags: those it released last time, and those it dropped but could not prune.
    const recorded = [...(before?.tags ?? []), ...(before?.stale ?? [])];
    const report = await promote({
      client,
      endpoints: { candidate: dist.url, production: dist.url },
      desired,
      recorded,
      signing: signing(req.root, dist.name, req.signer, req.now),
      // An index is put into the candidate only when this release copies it (a new version, a restore).
      beforeCopy: putIndexFor(client, images),
    });
    // A stale index keeps its images' digests, so a later prune deletes them too.
    const stale = report.plan.staleTags.map((t) => withInstances(t, recorded));
    const published: PublishedTags = { registry: dist.url, tags: desired.map(({ repository, tag, digest, package: p, version, instances }) => ({ repository, tag, digest, package: p, version, ...(instances ? { instances } : {}) })), ...(stale.length ? { stale } : {}) };
    const written = await writePublishedTags(distDir, published, (t) => req.signer.signDetached(t));
    if (report.plan.drift.length) req.log?.warn({ drift: report.plan.drift, distribution: dist.name }, 'tags moved by hand were restored');
    if (stale.length) {
      const refs = stale.map((t) => `${dist.url}/${t.repository}:${t.tag}`).join(', ');
      req.log?.warn({ staleTags: stale, distribution: dist.name }, `${dist.name}: dropped tags still stand, unsigned, because another tag holds their manifest: ${refs}`);
    }
    if (report.withdrawn.length) req.log?.info({ withdrawn: report.withdrawn, distribution: dist.name }, 'signatures of moved or dropped tags withdrawn');
    const signatures = new Map(report.signatures.filter((s) => !s.instance).map((s) => [`${s.repository}:${s.tag}`, s]));
    const imageSignatures = (t: { repository: string; tag: string }) =>
      report.signatures.filter((s) => s.instance && s.repository === t.repository && s.tag === t.tag).map((s) => ({ digest: s.instance!, file: s.file, sha256: s.sha256 }));
    const tags = published.tags.map(({ instances, ...t }) => {
      const s = signatures.get(`${t.repository}:${t.tag}`);
      const images = instances ? { imageSignatures: imageSignatures(t) } : {};
      return s ? { ...t, signature: { file: s.file, sha256: s.sha256, signingKey: req.signer.fingerprint }, ...images } : t;
    });
    return { releaseSha256: written.sha256, changed: report.changed || written.changed, tags, ...(indexes.length ? { indexes } : {}) };
  },
  async observe(root, dist, record, cursor, registryAuth) {
    const published = await readPublishedTags(join(root, dist.name));
    if (!published) return { drift: `${TAGS_FILE} is missing or unreadable`, cursor };
    if (published.sha256 !== record.releaseSha256) return { drift: `${TAGS_FILE} is not the one recorded (sha256 ${published.sha256.slice(0, 12)}…)`, cursor };
    const client = clientFor(dist, registryAuth);
    // Several tags at once (one skopeo process each); the first drifted tag in release order is reported.
    const drifts = await pMap(
      published.tags.tags,
      async (t) => {
        const found = await client.resolveTag({ registry: dist.url, repository: t.repository, tag: t.tag });
        return found === t.digest ? undefined : `${dist.url}/${t.repository}:${t.tag} points at ${found ?? 'nothing'}, released ${t.digest} (moved by hand?)`;
      },
      { concurrency: PROMOTE_CONCURRENCY },
    );
    const drift = drifts.find((d) => d !== undefined);
    return drift ? { drift, cursor } : { cursor };
  },
  changeMarker: (root, dist) => join(root, dist.name, TAGS_FILE),
  // Simple-signing signatures do not expire.
  dueForResign: async () => false,
  async resign(root, name, signer, now) {
    const published = await readPublishedTags(join(root, name));
    if (!published) return { parts: [] };
    const parts: string[] = [];
    for (const t of published.tags.tags) {
      for (const digest of [t.digest, ...(t.instances ?? [])]) {
        const s = await signTag({ registry: published.tags.registry, repository: t.repository, tag: t.tag, digest }, signing(root, name, signer, now));
        parts.push(s.file);
      }
    }
    await resignPublishedTags(join(root, name), (x) => signer.signDetached(x));
    return { parts: [...parts, TAGS_FILE] };
  },
  async findSigned(root, publicKeyArmored) {
    const names = await readdir(root).catch(() => [] as string[]);
    const out = [];
    for (const name of names.sort()) {
      const published = await readPublishedTags(join(root, name));
      if (!published) continue;
      let signedByKey = true;
      for (const t of published.tags.tags) {
        for (const digest of [t.digest, ...(t.instances ?? [])]) {
          const refs = await signedReferences(join(root, name, SIGSTORE_DIR), t.repository, digest, publicKeyArmored);
          if (!refs.includes(`${published.tags.registry}/${t.repository}:${t.tag}`)) signedByKey = false;
        }
      }
      out.push({ distribution: name, signedByKey });
    }
    return out;
  },
  async gate(req) {
    const published = await readPublishedTags(join(req.root, req.from.name));
    const entry = published?.tags.tags.find((t) => t.package === req.package && t.version === req.version);
    if (!published || !entry) throw new GateInfraError(`${req.from.name} does not publish ${req.package} ${req.version}`, { from: req.from.name });
    const base = { distribution: req.distribution, from: req.from.name, package: req.package, version: req.version, gate: 'image-test' };
    if (!req.smoke) return { ...base, verdict: 'passed', reason: 'the package has no test: command', at: new Date().toISOString() };
    const gate = { docker: req.docker, test: req.smoke, distribution: req.distribution, from: req.from.name, package: req.package, version: req.version, timeoutSeconds: req.timeoutSeconds, log: req.log, auth: req.registryAuth, ...(req.host ? { host: req.host } : {}) };
    const image = `${published.tags.registry}/${entry.repository}@${entry.digest}`;
    const at = { ...byDigest(published.tags.registry, entry.repository, entry.digest), digest: entry.digest };
    const client = clientFor(req.from, req.registryAuth);
    const read = <T>(what: Promise<T>): Promise<T> =>
      what.catch((cause: unknown) => {
        // Integrity failures are not infrastructure trouble: the gate step records them as a failed verdict.
        if (cause instanceof DigestMismatchError) throw cause;
        throw new GateInfraError(`could not read ${image}: ${(cause as Error).message}`, { image }, { cause });
      });
    const manifest = await read(client.manifest(at));
    const entries = indexManifests(manifest.bytes);
    // One image: the test runs on the platform its config says (under qemu when it is foreign).
    if (!entries) {
      const { configDigest } = describeManifest(`${published.tags.registry}/${entry.repository}`, manifest.bytes.toString('utf8'), manifest.digest);
      return runImageTestGate({ ...gate, image, platform: configPlatformString(await read(client.configPlatform(at, configDigest))) });
    }
    // An index (a multi-arch version): the test runs in each architecture's image.
    return runImageTestGateEach(
      gate,
      entries.map((m) => ({ image: `${published.tags.registry}/${entry.repository}@${m.digest}`, platform: entryPlatform(m) })),
    );
  },
  contentType: (rel) => (rel.endsWith(`/${TAGS_FILE}`) ? 'application/json' : /\/signature-[0-9]+$/.test(rel) ? 'application/octet-stream' : undefined),
  immutable: () => false,
};
