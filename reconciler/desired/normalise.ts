// Schema-valid documents -> the reconciler's DesiredState types, with every
// default applied in one place. Pure. Precedence for image and limits:
// package > pool > kiln.yaml defaults > BUILTIN_DEFAULTS.
import type { AptDistributionDoc, DebPackageDoc, DistributionDoc, DnfDistributionDoc, KilnConfigDoc, Limits, OciPackageDoc, PackageDoc, RegistryDistributionDoc, RpmPackageDoc } from '../../schema/metadata.ts';
import type { ResolvedLimits } from '../../schema/messages.ts';
import type { AptDistribution, DebPackage, DesiredConfig, DesiredDistribution, DesiredPackage, DnfDistribution, OciPackage, PoolConfig, RegistryDistribution, RpmPackage } from '../model.ts';
import { ARCHITECTURES } from '../../schema/metadata.ts';
import type { SourceControl } from './source-control.ts';

export const BUILTIN_DEFAULTS = {
  pool: 'deb',
  image: 'kiln/bookworm-debhelper',
  limits: { memoryMiB: 2048, cpus: 2, pids: 4096, timeoutSeconds: 3600 },
  maxAttempts: 3,
  keep: 3,
  origin: 'Kiln',
  components: ['main'],
  rebuildDependents: 'on-version-change',
} as const;

export function mergeLimits(...layers: Array<Limits | undefined>): ResolvedLimits {
  // Later layers win; undefined fields fall through. (for-in, not Object.entries: this runs per package file.)
  const out: ResolvedLimits = { ...BUILTIN_DEFAULTS.limits };
  for (const l of layers) {
    if (!l) continue;
    for (const k in l) {
      const v = l[k as keyof Limits];
      if (v !== undefined) (out as Record<string, number>)[k] = v;
    }
  }
  return out;
}

/** kiln.yaml (possibly absent) -> DesiredConfig. With no pools declared, one implicit pool takes every architecture. */
export function normaliseConfig(doc: KilnConfigDoc | undefined): DesiredConfig {
  const d = doc?.defaults ?? {};
  const defaultsLimits = mergeLimits(d.limits);
  const declared = doc?.pools ?? {};
  const pools: Record<string, PoolConfig> = {};
  for (const [name, p] of Object.entries(declared)) {
    pools[name] = { architectures: [...p.architectures], ...(p.image ? { image: p.image } : {}), limits: mergeLimits(d.limits, p.limits), ...(p.buildFrom ? { buildFrom: p.buildFrom } : {}) };
  }
  const names = Object.keys(pools);
  const pool = d.pool ?? (names.length === 1 ? names[0] : BUILTIN_DEFAULTS.pool);
  if (names.length === 0) pools[pool] = { architectures: [...ARCHITECTURES], limits: defaultsLimits };
  return {
    trust: { keys: [...(doc?.trust?.keys ?? [])], requireSignedCommits: doc?.trust?.requireSignedCommits ?? true },
    signing: { ...(doc?.signing?.publicKey ? { publicKey: doc.signing.publicKey } : {}) },
    ...(doc?.repoUrl ? { repoUrl: doc.repoUrl.replace(/\/+$/, '') } : {}),
    ...(doc?.forge ? { forge: { ...doc.forge } } : {}),
    registries: Object.fromEntries(Object.entries(doc?.registries ?? {}).map(([host, r]) => [host, { insecure: r.insecure ?? false }])),
    pools,
    defaults: {
      pool,
      image: d.image ?? BUILTIN_DEFAULTS.image,
      limits: defaultsLimits,
      maxAttempts: d.maxAttempts ?? BUILTIN_DEFAULTS.maxAttempts,
      keep: d.keep ?? BUILTIN_DEFAULTS.keep,
      ...(d.buildFrom ? { buildFrom: d.buildFrom } : {}),
      rebuildDependents: d.rebuildDependents ?? BUILTIN_DEFAULTS.rebuildDependents,
    },
  };
}

export interface ResolvedSource {
  url: string;
  commit: string;
}

/** A package file by its `format:` (each format's fields, defaults applied). */
export function normalisePackage(file: string, doc: PackageDoc, config: DesiredConfig, source: ResolvedSource, control?: SourceControl): DesiredPackage {
  switch (doc.format) {
    case 'deb':
      return normaliseDebPackage(file, doc, config, source, control);
    case 'oci':
      return normaliseOciPackage(file, doc, config, source);
    case 'rpm':
      return normaliseRpmPackage(file, doc, config, source);
  }
}

const DIGEST_REF = /^[A-Za-z0-9.-]+(:[0-9]{1,5})?\/[a-z0-9._/-]+@sha256:[0-9a-f]{64}$/;
/** A registry host (a dot, a port or localhost: never a Docker Hub shorthand such as debian:bookworm), a path and a tag. */
const TAG_REF = /^(?:localhost|[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|[A-Za-z0-9.-]+:[0-9]{1,5})(?::[0-9]{1,5})?\/[a-z0-9._/-]+:[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

/** `from:` is a digest or tag reference when it looks like one; anything else names a Kiln package (checked by the ociFrom rule). */
export function ociFrom(value: string | undefined): OciPackage['from'] {
  if (value === undefined) return undefined;
  if (DIGEST_REF.test(value)) return { image: value };
  return TAG_REF.test(value) ? { tag: value } : { package: value };
}

/**
 * The fields every package format shares (the pool's limits already hold defaults < pool). A deb
 * package adds its own fields to this object in place: spreading it into a new literal with
 * conditional spreads was ≈ 25 of the 224 MB a cold plan of 10,000 packages allocated (sampled
 * heap profile; 3 MB after), the largest share of any function.
 */
function commonFields(file: string, doc: PackageDoc, config: DesiredConfig, source: ResolvedSource, pool: string) {
  const src: DesiredPackage['source'] = { git: doc.source.git, url: source.url, ref: doc.source.ref, commit: source.commit };
  if (doc.source.subdir) src.subdir = doc.source.subdir;
  return {
    name: doc.name,
    file,
    version: doc.version,
    source: src,
    architectures: [...doc.architectures],
    pool,
    limits: mergeLimits(config.pools[pool]?.limits ?? config.defaults.limits, doc.limits),
    release: doc.release ? [...doc.release] : [],
    rebuild: doc.rebuild ?? 0,
  };
}

function normaliseOciPackage(file: string, doc: OciPackageDoc, config: DesiredConfig, source: ResolvedSource): OciPackage {
  const from = ociFrom(doc.from);
  const pool = doc.pool ?? 'oci';
  const install = doc.install ?? [];
  // Only an image that installs packages of this repo builds from a distribution (package > pool > defaults).
  const buildFrom = install.length ? (doc.buildFrom ?? config.pools[pool]?.buildFrom ?? config.defaults.buildFrom) : undefined;
  return {
    ...commonFields(file, doc, config, source, pool),
    format: 'oci',
    // The builder is the agent's Docker engine; the image names the base for messages only.
    image: doc.from ?? 'scratch',
    ...(doc.test !== undefined ? { smoke: doc.test, test: doc.test } : {}),
    dockerfile: doc.dockerfile ?? 'Dockerfile',
    context: doc.context ?? '.',
    ...(from ? { from } : {}),
    ...(install.length ? { install: [...install] } : {}),
    ...(buildFrom !== undefined ? { buildFrom } : {}),
    tags: [...(doc.tags ?? ['{version}'])],
  };
}

function normaliseDebPackage(file: string, doc: DebPackageDoc, config: DesiredConfig, source: ResolvedSource, control?: SourceControl): DebPackage {
  const pool = doc.pool ?? config.defaults.pool;
  const poolConfig = config.pools[pool];
  const kilnDefaults = config.defaults;
  const buildFrom = doc.buildFrom ?? poolConfig?.buildFrom ?? kilnDefaults.buildFrom;
  // Fields in the order a spread gave them: common, format, image, smoke, buildFrom, rebuildDependents, bootstrap, control.
  const p = commonFields(file, doc, config, source, pool) as DebPackage;
  p.format = doc.format;
  p.image = doc.image ?? poolConfig?.image ?? kilnDefaults.image;
  if (doc.smoke !== undefined) p.smoke = doc.smoke;
  if (buildFrom !== undefined) p.buildFrom = buildFrom;
  p.rebuildDependents = doc.rebuildDependents ?? kilnDefaults.rebuildDependents;
  if (doc.bootstrap) p.bootstrap = true;
  if (control) p.control = control;
  return p;
}

/** The rpm toolchain image scripts/setup-host builds: the default for rpm builds and dnf gates. */
export const RPM_IMAGE = 'kiln/bookworm-rpm';

function normaliseRpmPackage(file: string, doc: RpmPackageDoc, config: DesiredConfig, source: ResolvedSource): RpmPackage {
  const pool = doc.pool ?? config.defaults.pool;
  return {
    ...commonFields(file, doc, config, source, pool),
    format: 'rpm',
    spec: doc.spec,
    image: doc.image ?? config.pools[pool]?.image ?? RPM_IMAGE,
    ...(doc.smoke !== undefined ? { smoke: doc.smoke } : {}),
  };
}

/** A distribution file by its `format:` (each release target's fields, defaults applied). */
/** `plainHttp`: every registry host reached over plain http (plainHttpHosts of all the distributions). */
export function normaliseDistribution(file: string, doc: DistributionDoc, config: DesiredConfig, plainHttp = plainHttpHosts(config, [doc])): DesiredDistribution {
  switch (doc.format) {
    case 'apt':
      return normaliseAptDistribution(file, doc, config);
    case 'registry':
      return normaliseRegistryDistribution(file, doc, config, plainHttp);
    case 'dnf':
      return normaliseDnfDistribution(file, doc, config);
  }
}

/**
 * Registry hosts reached over plain http, sorted: kiln.yaml `registries.<host>.insecure` and the url
 * of every registry distribution marked `insecure: true` (a promotion copies from one to another).
 */
export function plainHttpHosts(config: Pick<DesiredConfig, 'registries'>, docs: DistributionDoc[] = []): string[] {
  const fromConfig = Object.entries(config.registries ?? {}).filter(([, r]) => r.insecure).map(([host]) => host);
  const fromDists = docs.flatMap((d) => (d.format === 'registry' && d.insecure ? [d.url] : []));
  return [...new Set([...fromConfig, ...fromDists])].sort();
}

function normaliseRegistryDistribution(file: string, doc: RegistryDistributionDoc, config: DesiredConfig, plainHttp: string[]): RegistryDistribution {
  return {
    name: doc.name,
    file,
    format: 'registry',
    url: doc.url,
    repository: doc.repository ?? '',
    insecure: doc.insecure ?? config.registries?.[doc.url]?.insecure ?? false,
    plainHttp,
    architectures: [...doc.architectures],
    ...(doc.signingKey !== undefined ? { signingKey: doc.signingKey } : {}),
    keep: doc.keep ?? config.defaults.keep,
    ...(doc.promoteFrom !== undefined ? { promoteFrom: doc.promoteFrom } : {}),
    gate: doc.gate ?? (doc.promoteFrom !== undefined ? 'image-test' : 'none'),
  };
}

function normaliseAptDistribution(file: string, doc: AptDistributionDoc, config: DesiredConfig): AptDistribution {
  return {
    name: doc.name,
    file,
    format: doc.format,
    suite: doc.suite,
    codename: doc.codename ?? doc.suite,
    components: [...(doc.components ?? BUILTIN_DEFAULTS.components)],
    architectures: [...doc.architectures],
    origin: doc.origin ?? BUILTIN_DEFAULTS.origin,
    label: doc.label ?? doc.name,
    ...(doc.description !== undefined ? { description: doc.description } : {}),
    ...(doc.signingKey !== undefined ? { signingKey: doc.signingKey } : {}),
    keep: doc.keep ?? config.defaults.keep,
    ...(doc.validForDays !== undefined ? { validForDays: doc.validForDays } : {}),
    ...(doc.promoteFrom !== undefined ? { promoteFrom: doc.promoteFrom } : {}),
    gate: doc.gate ?? (doc.promoteFrom !== undefined ? 'install-smoke' : 'none'),
  };
}

function normaliseDnfDistribution(file: string, doc: DnfDistributionDoc, config: DesiredConfig): DnfDistribution {
  return {
    name: doc.name,
    file,
    format: 'dnf',
    architectures: [...doc.architectures],
    ...(doc.title !== undefined ? { title: doc.title } : {}),
    ...(doc.baseUrl !== undefined ? { baseUrl: doc.baseUrl } : {}),
    ...(doc.signingKey !== undefined ? { signingKey: doc.signingKey } : {}),
    keep: doc.keep ?? config.defaults.keep,
    ...(doc.promoteFrom !== undefined ? { promoteFrom: doc.promoteFrom } : {}),
    gate: doc.gate ?? (doc.promoteFrom !== undefined ? 'install-smoke' : 'none'),
    gateImage: doc.gateImage ?? RPM_IMAGE,
  };
}
