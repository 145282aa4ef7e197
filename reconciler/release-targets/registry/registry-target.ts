// The registry release target: a distribution is a set of tags in an OCI registry
// (dist.url, under the dist.repository prefix). A release copies each image by
// digest from where its build pushed it (the candidate registry, named in the
// unit's image.json), points the tags, signs every tag ("simple signing", in the
// lookaside dir ROOT/<dist>/sigstore that kiln serve serves), prunes what the
// desired state dropped, and writes ROOT/<dist>/tags.json (signed; the change
// marker and the base of drift checks). The promotion gate is image-test.
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GateInfraError, PublishInputError } from '../../../schema/errors.ts';
import type { OciImage, PublishedTags } from '../../../schema/oci.ts';
import { validators } from '../../../schema/validate.ts';
import { signedReferences, signTag } from '../../../oci/lookaside.ts';
import pMap from 'p-map';
import { promote, PROMOTE_CONCURRENCY } from '../../../oci/promote.ts';
import { readPublishedTags, resignPublishedTags, TAGS_FILE, writePublishedTags } from '../../../oci/published-tags.ts';
import type { DesiredTag } from '../../../oci/registry-plan.ts';
import { renderTag } from '../../../oci/tag-template.ts';
import { runImageTestGate } from '../../gate/image-test.ts';
import { ociFormat } from '../../formats/oci/oci-format.ts';
import type { RegistryDistribution } from '../../model.ts';
import type { Signer } from '../../signing/signer.ts';
import type { ReleaseTarget, ReleaseUnit } from '../target.ts';
import { clientFor } from './registry-access.ts';

export const SIGSTORE_DIR = 'sigstore';
const repositoryOf = (dist: RegistryDistribution, name: string) => (dist.repository ? `${dist.repository}/${name}` : name);

async function imageOf(unit: ReleaseUnit): Promise<OciImage> {
  const file = unit.files.find((f) => f.name === 'image.json');
  if (!file) throw new PublishInputError(`${unit.name} ${unit.version}: no image.json among its artifacts`, { package: unit.name });
  const v: unknown = JSON.parse(await readFile(file.path, 'utf8'));
  if (!validators.ociImage(v)) throw new PublishInputError(`${unit.name} ${unit.version}: image.json is not an OCI image description`, { package: unit.name });
  return v;
}

/**
 * Each unit's tags from its package's templates (default `{version}`; `{build}`: the build key's
 * first 12 digits). Units go oldest first, so a tag two versions render (`latest`) names the newest.
 * Architectures of one version share the image in this first cut.
 */
async function desiredTags(dist: RegistryDistribution, units: ReleaseUnit[]): Promise<Array<DesiredTag & { package: string; version: string }>> {
  const out = new Map<string, DesiredTag & { package: string; version: string }>();
  const ordered = [...units].sort((a, b) => a.name.localeCompare(b.name) || ociFormat.compareVersions(a.version, b.version));
  for (const u of ordered) {
    const img = await imageOf(u);
    const repository = repositoryOf(dist, u.name);
    for (const template of u.tagTemplates ?? ['{version}']) {
      const tag = renderTag(template, { version: u.version, build: (u.build ?? '').slice(0, 12) });
      out.set(`${repository}:${tag}`, { repository, tag, digest: img.manifestDigest, from: img.repository, package: u.name, version: u.version });
    }
  }
  return [...out.values()];
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
    const desired = await desiredTags(dist, req.units);
    const before = (await readPublishedTags(distDir))?.tags;
    // Kiln's own tags: those it released last time, and those it dropped but could not prune.
    const recorded = [...(before?.tags ?? []), ...(before?.stale ?? [])];
    const report = await promote({
      client: clientFor(dist, req.registryAuth),
      endpoints: { candidate: dist.url, production: dist.url },
      desired,
      recorded,
      signing: signing(req.root, dist.name, req.signer, req.now),
    });
    const stale = report.plan.staleTags;
    const published: PublishedTags = { registry: dist.url, tags: desired.map(({ repository, tag, digest, package: p, version }) => ({ repository, tag, digest, package: p, version })), ...(stale.length ? { stale } : {}) };
    const written = await writePublishedTags(distDir, published, (t) => req.signer.signDetached(t));
    if (report.plan.drift.length) req.log?.warn({ drift: report.plan.drift, distribution: dist.name }, 'tags moved by hand were restored');
    if (stale.length) {
      const refs = stale.map((t) => `${dist.url}/${t.repository}:${t.tag}`).join(', ');
      req.log?.warn({ staleTags: stale, distribution: dist.name }, `${dist.name}: dropped tags still stand, unsigned, because another tag holds their manifest: ${refs}`);
    }
    if (report.withdrawn.length) req.log?.info({ withdrawn: report.withdrawn, distribution: dist.name }, 'signatures of moved or dropped tags withdrawn');
    const signatures = new Map(report.signatures.map((s) => [`${s.repository}:${s.tag}`, s]));
    const tags = published.tags.map((t) => {
      const s = signatures.get(`${t.repository}:${t.tag}`);
      return s ? { ...t, signature: { file: s.file, sha256: s.sha256, signingKey: req.signer.fingerprint } } : t;
    });
    return { releaseSha256: written.sha256, changed: report.changed || written.changed, tags };
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
      const s = await signTag({ registry: published.tags.registry, repository: t.repository, tag: t.tag, digest: t.digest }, signing(root, name, signer, now));
      parts.push(s.file);
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
        const refs = await signedReferences(join(root, name, SIGSTORE_DIR), t.repository, t.digest, publicKeyArmored);
        if (!refs.includes(`${published.tags.registry}/${t.repository}:${t.tag}`)) signedByKey = false;
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
    return runImageTestGate({
      docker: req.docker,
      image: `${published.tags.registry}/${entry.repository}@${entry.digest}`,
      test: req.smoke,
      distribution: req.distribution,
      from: req.from.name,
      package: req.package,
      version: req.version,
      timeoutSeconds: req.timeoutSeconds,
      log: req.log,
      auth: req.registryAuth,
    });
  },
  contentType: (rel) => (rel.endsWith(`/${TAGS_FILE}`) ? 'application/json' : /\/signature-[0-9]+$/.test(rel) ? 'application/octet-stream' : undefined),
  immutable: () => false,
};
