// JSON Schemas (draft 2020-12) of the metadata repo's files. The TypeScript
// types are derived from these same objects (json-schema-to-ts), so there is
// no hand-kept twin to drift.
import type { FromSchema } from 'json-schema-to-ts';

const DIALECT = 'https://json-schema.org/draft/2020-12/schema';

/** Debian architectures Kiln knows. `all` is for arch-independent packages. */
export const ARCHITECTURES = ['amd64', 'arm64', 'armhf', 'armel', 'i386', 'ppc64el', 's390x', 'riscv64', 'mips64el', 'all'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

/** Names that become path segments, subjects and Debian package names. */
export const NAME_PATTERN = '^[a-z0-9][a-z0-9+.-]{0,62}[a-z0-9+]$';
export const POOL_PATTERN = '^[a-z0-9][a-z0-9_-]{0,30}$';
export const FINGERPRINT_PATTERN = '^[0-9A-F]{40}$';
/** Text copied into a signed Release file: a newline there would add fields. */
/** An OCI registry as image references name it: HOST[:PORT]. */
export const REGISTRY_HOST_PATTERN = '^[A-Za-z0-9.-]+(:[0-9]{1,5})?$';
export const ONE_LINE_PATTERN = '^[^\\r\\n]*$';

const limitsSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    memoryMiB: { type: 'integer', minimum: 64, maximum: 262144, description: 'Memory limit of the build container, MiB.' },
    // Docker's floor: under 0.01 CPU the kernel refuses the CFS quota when the container starts.
    cpus: { type: 'number', minimum: 0.01, maximum: 256, description: 'CPU limit (fractional cores, at least 0.01; more than an agent host has is capped to its cores).' },
    pids: { type: 'integer', minimum: 16, maximum: 1000000, description: 'Maximum number of processes.' },
    timeoutSeconds: { type: 'integer', minimum: 1, maximum: 172800, description: 'Wall-clock limit of one build.' },
  },
} as const;

const architectureList = {
  type: 'array',
  minItems: 1,
  uniqueItems: true,
  items: { enum: ARCHITECTURES },
} as const;

const rebuildDependentsSchema = { enum: ['always', 'on-version-change', 'never'], description: 'Which rebuilds of this package rebuild the packages that Build-Depend on it.' } as const;
const buildFromSchema = { type: 'string', pattern: NAME_PATTERN, description: 'Distribution (of this repo) whose published packages builds install Build-Depends from.' } as const;
/** Where commit statuses go: any forge serving GitHub's status API (GitHub, Gitea, Forgejo). */
export const FORGE_TYPES = ['github', 'gitea', 'forgejo'] as const;
const httpUrl = { type: 'string', maxLength: 2048, pattern: '^https?://[^\\s/]+(/[^\\s]*)?$' } as const;
const forgeSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['type', 'url', 'repo'],
  description: 'The forge that hosts this repo: commit statuses (kiln/reconcile, kiln/check) are posted there.',
  properties: {
    type: { enum: FORGE_TYPES },
    url: { ...httpUrl, description: 'Web URL of the forge, e.g. https://github.com or https://gitea.example.org.' },
    apiUrl: { ...httpUrl, description: 'API base URL (default: https://api.github.com for github.com, <url>/api/v3 for GitHub Enterprise, <url>/api/v1 for Gitea/Forgejo).' },
    repo: { type: 'string', pattern: '^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$', description: 'owner/name of the metadata repo on the forge.' },
    targetUrl: { ...httpUrl, description: 'Link of each status (the dashboard/API); {sha} and {context} are replaced.' },
  },
} as const;

export const kilnConfigSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/kiln.json',
  title: 'kiln.yaml',
  type: 'object',
  additionalProperties: false,
  properties: {
    trust: {
      type: 'object',
      additionalProperties: false,
      description: 'Who may change the desired state.',
      properties: {
        keys: {
          type: 'array',
          uniqueItems: true,
          items: { type: 'string', pattern: '^keys/[A-Za-z0-9._-]+\\.asc$' },
          description: 'Armored public keys (paths under keys/) whose signed commits are acted on.',
        },
        requireSignedCommits: { type: 'boolean', description: 'Refuse unsigned or untrusted desired commits (default true).' },
      },
    },
    signing: {
      type: 'object',
      additionalProperties: false,
      properties: {
        publicKey: { type: 'string', pattern: '^keys/[A-Za-z0-9._-]+\\.asc$', description: "The reconciler's public key, published with every repository." },
      },
    },
    pools: {
      type: 'object',
      description: 'Agent pools: each gets one work queue per architecture.',
      propertyNames: { pattern: POOL_PATTERN },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        required: ['architectures'],
        properties: {
          architectures: architectureList,
          image: { type: 'string', minLength: 1 },
          limits: limitsSchema,
          buildFrom: buildFromSchema,
        },
      },
    },
    forge: forgeSchema,
    registries: {
      type: 'object',
      description:
        'How Kiln reaches each OCI registry, by HOST[:PORT] as image references name it (the candidate registry agents push to, a production registry). Applies to every registry call the reconciler makes: verifying build results, promotion (source and destination), drift checks, pruning.',
      propertyNames: { pattern: REGISTRY_HOST_PATTERN },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          insecure: { type: 'boolean', description: 'Plain http, no TLS (like Docker\'s insecure-registries): a registry on a private build network or loopback. Default false.' },
        },
      },
    },
    repoUrl: {
      ...httpUrl,
      description:
        'Base URL at which build agents reach the published repositories (as `kiln serve` or the service serves them, e.g. http://repo.example.org:8080/repos); a buildFrom distribution is <repoUrl>/<name>. `kiln up` defaults it to its own address.',
    },
    defaults: {
      type: 'object',
      additionalProperties: false,
      properties: {
        pool: { type: 'string', pattern: POOL_PATTERN },
        image: { type: 'string', minLength: 1 },
        limits: limitsSchema,
        maxAttempts: { type: 'integer', minimum: 1, maximum: 100, description: 'Attempts for infrastructure failures.' },
        keep: { type: 'integer', minimum: 1, maximum: 1000, description: 'Versions kept per package in a distribution.' },
        buildFrom: buildFromSchema,
        rebuildDependents: rebuildDependentsSchema,
      },
    },
  },
} as const;

/**
 * Package formats, each with its own schema below (`format:` picks it: PACKAGE_SCHEMAS) and its
 * module in reconciler/formats/. Every variant's `format` lists all of them, so a file naming an
 * unknown format is told which exist. Next: 'oci', 'rpm'.
 */
export const PACKAGE_FORMATS = ['deb', 'oci', 'rpm'] as const;
/** Release-target formats of distributions (DISTRIBUTION_SCHEMAS; reconciler/release-targets/). */
export const DISTRIBUTION_FORMATS = ['apt', 'registry', 'dnf'] as const;

export const debPackageSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/package-deb.json',
  title: 'Package (deb)',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'version', 'source', 'format', 'architectures'],
  properties: {
    name: { type: 'string', pattern: NAME_PATTERN, description: 'Debian source package name.' },
    version: { type: 'string', minLength: 1, maxLength: 128, description: 'Debian version, e.g. 1.2.0-1.' },
    source: {
      type: 'object',
      additionalProperties: false,
      required: ['git', 'ref'],
      properties: {
        git: { type: 'string', minLength: 1, maxLength: 2048, description: 'Git URL (http(s)://, file://) or a path relative to the metadata repo.' },
        ref: { type: 'string', minLength: 1, maxLength: 256, description: 'Branch, tag or commit id.' },
        subdir: { type: 'string', pattern: '^(?!/)(?!.*(^|/)\\.\\.(/|$))[A-Za-z0-9._/+-]+$', description: 'Directory of the package inside the source repo.' },
      },
    },
    format: { enum: PACKAGE_FORMATS, description: 'Package format: picks the schema of the rest of the file.' },
    architectures: architectureList,
    image: { type: 'string', minLength: 1, description: 'Builder image; pin with name@sha256:… for reproducible keys.' },
    pool: { type: 'string', pattern: POOL_PATTERN },
    limits: limitsSchema,
    release: {
      type: 'array',
      uniqueItems: true,
      items: { type: 'string', pattern: NAME_PATTERN },
      description: 'Distributions that release this package.',
    },
    rebuild: { type: 'integer', minimum: 0, description: 'Bump to force a rebuild of the same inputs.' },
    smoke: { type: 'string', minLength: 1, maxLength: 4096, description: 'Command run after install by promotion gates.' },
    buildFrom: buildFromSchema,
    rebuildDependents: rebuildDependentsSchema,
    bootstrap: { type: 'boolean', description: 'Build without waiting for in-repo Build-Depends (breaks a dependency cycle).' },
  },
} as const;

export const aptDistributionSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/distribution-apt.json',
  title: 'Distribution (apt)',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'format', 'suite', 'architectures'],
  properties: {
    name: { type: 'string', pattern: NAME_PATTERN },
    format: { enum: DISTRIBUTION_FORMATS, description: 'Release target: picks the schema of the rest of the file.' },
    suite: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' },
    codename: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' },
    components: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$' } },
    architectures: architectureList,
    origin: { type: 'string', minLength: 1, maxLength: 200, pattern: ONE_LINE_PATTERN },
    label: { type: 'string', minLength: 1, maxLength: 200, pattern: ONE_LINE_PATTERN },
    description: { type: 'string', maxLength: 1000 },
    signingKey: { type: 'string', pattern: FINGERPRINT_PATTERN, description: 'Fingerprint of the key that signs Release files.' },
    keep: { type: 'integer', minimum: 1, maximum: 1000, description: 'Versions kept per package.' },
    validForDays: { type: 'integer', minimum: 1, maximum: 3650, description: 'Adds Valid-Until to Release.' },
    promoteFrom: { type: 'string', pattern: NAME_PATTERN, description: 'Take versions only once published there and gated.' },
    gate: { enum: ['install-smoke', 'none'], description: 'What a version must pass before promotion.' },
  },
} as const;

const relPath = { type: 'string', maxLength: 1024, pattern: '^(?!/)(?!.*(^|/)\\.\\.(/|$))[A-Za-z0-9._/+-]+$' } as const;

export const ociPackageSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/package-oci.json',
  title: 'Package (oci)',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'version', 'source', 'format', 'architectures'],
  properties: {
    name: { type: 'string', pattern: NAME_PATTERN, description: 'Image name: the repository under the distribution\'s prefix.' },
    version: { type: 'string', minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9][A-Za-z0-9_.+~:-]*$', description: 'Image version, e.g. 1.2.0-1 (ordered like Debian versions).' },
    source: debPackageSchema.properties.source,
    format: { enum: PACKAGE_FORMATS, description: 'Package format: picks the schema of the rest of the file.' },
    architectures: architectureList,
    dockerfile: { ...relPath, description: 'Dockerfile, relative to the source subdir (default: Dockerfile).' },
    context: { ...relPath, description: 'Build context, relative to the source subdir (default: .).' },
    from: { type: 'string', minLength: 1, maxLength: 512, description: 'Base image: HOST/REPO@sha256:… or the name of another Kiln oci package (built first; its image digest becomes part of this build\'s key).' },
    install: {
      type: 'array',
      uniqueItems: true,
      maxItems: 256,
      items: { type: 'string', pattern: '^[a-z0-9][a-z0-9+.-]+$' },
      description: 'Binary packages of this repo put into the build context (.kiln-debs/) from the buildFrom distribution before the network-less build; the build waits until they are published there.',
    },
    buildFrom: buildFromSchema,
    tags: { type: 'array', minItems: 1, uniqueItems: true, items: { type: 'string', minLength: 1, maxLength: 128 }, description: 'Tag templates: {version}, {build}.' },
    pool: { type: 'string', pattern: POOL_PATTERN },
    limits: limitsSchema,
    release: debPackageSchema.properties.release,
    rebuild: debPackageSchema.properties.rebuild,
    test: { type: 'string', minLength: 1, maxLength: 4096, description: 'Command the image-test gate runs inside the candidate image.' },
  },
} as const;

export const registryDistributionSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/distribution-registry.json',
  title: 'Distribution (registry)',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'format', 'url', 'architectures'],
  properties: {
    name: aptDistributionSchema.properties.name,
    format: aptDistributionSchema.properties.format,
    url: { type: 'string', pattern: REGISTRY_HOST_PATTERN, description: 'Registry HOST[:PORT] as consumers name it (signatures name it).' },
    repository: { type: 'string', pattern: '^[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$', description: 'Repository prefix: images are PREFIX/NAME.' },
    insecure: { type: 'boolean', description: 'The registry at url speaks plain http, no TLS (the same as kiln.yaml registries.<url>.insecure). Default false.' },
    architectures: architectureList,
    signingKey: { type: 'string', pattern: FINGERPRINT_PATTERN },
    keep: { type: 'integer', minimum: 1, maximum: 1000, description: 'Versions kept per image.' },
    promoteFrom: { type: 'string', pattern: NAME_PATTERN, description: 'Copy by digest from this registry distribution once gated.' },
    gate: { enum: ['image-test', 'none'], description: 'What an image must pass before promotion.' },
  },
} as const;

export const rpmPackageSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/package-rpm.json',
  title: 'Package (rpm)',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'version', 'source', 'format', 'spec', 'architectures'],
  properties: {
    name: { type: 'string', pattern: NAME_PATTERN, description: 'rpm Name: of the spec.' },
    version: { type: 'string', minLength: 1, maxLength: 128, description: 'rpm [EPOCH:]VERSION-RELEASE, e.g. 1.2.0-1; must be what the spec declares.' },
    source: debPackageSchema.properties.source,
    format: { enum: PACKAGE_FORMATS, description: 'Package format: picks the schema of the rest of the file.' },
    spec: { type: 'string', pattern: '^(?!/)(?!.*(^|/)\\.\\.(/|$))[A-Za-z0-9._/+-]+\\.spec$', description: 'The spec file, relative to the source subdir.' },
    architectures: architectureList,
    image: { type: 'string', minLength: 1, description: 'Builder image with rpmbuild (default kiln/bookworm-rpm).' },
    pool: { type: 'string', pattern: POOL_PATTERN },
    limits: limitsSchema,
    release: debPackageSchema.properties.release,
    rebuild: debPackageSchema.properties.rebuild,
    smoke: debPackageSchema.properties.smoke,
  },
} as const;

export const dnfDistributionSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/distribution-dnf.json',
  title: 'Distribution (dnf)',
  type: 'object',
  additionalProperties: false,
  required: ['name', 'format', 'architectures'],
  properties: {
    name: { type: 'string', pattern: NAME_PATTERN },
    format: { enum: DISTRIBUTION_FORMATS, description: 'Release target: picks the schema of the rest of the file.' },
    architectures: architectureList,
    title: { type: 'string', minLength: 1, maxLength: 200, pattern: ONE_LINE_PATTERN, description: 'name= of the generated .repo file.' },
    baseUrl: { type: 'string', pattern: '^(https?|file)://[^\\s]+$', description: 'Where users reach the repository (baseurl= of the .repo file).' },
    signingKey: { type: 'string', pattern: FINGERPRINT_PATTERN, description: 'Fingerprint of the key that signs rpm headers and repomd.xml.' },
    keep: { type: 'integer', minimum: 1, maximum: 1000, description: 'Versions kept per package.' },
    promoteFrom: { type: 'string', pattern: NAME_PATTERN, description: 'Take versions only once published there and gated.' },
    gate: { enum: ['install-smoke', 'none'], description: 'What a version must pass before promotion (install-smoke: dnf in a clean container).' },
    gateImage: { type: 'string', minLength: 1, description: 'Image with dnf for the gate (default kiln/bookworm-rpm).' },
  },
} as const;

/** `format:` -> the schema of a package file of that format. */
export const PACKAGE_SCHEMAS = { deb: debPackageSchema, oci: ociPackageSchema, rpm: rpmPackageSchema } as const satisfies Record<(typeof PACKAGE_FORMATS)[number], object>;
/** `format:` -> the schema of a distribution file of that release target. */
export const DISTRIBUTION_SCHEMAS = { apt: aptDistributionSchema, registry: registryDistributionSchema, dnf: dnfDistributionSchema } as const satisfies Record<(typeof DISTRIBUTION_FORMATS)[number], object>;

export type KilnConfigDoc = FromSchema<typeof kilnConfigSchema>;
/** Each variant's schema lists every format (so an unknown one is told which exist); its type names its own. */
export type DebPackageDoc = Omit<FromSchema<typeof debPackageSchema>, 'format'> & { format: 'deb' };
export type OciPackageDoc = Omit<FromSchema<typeof ociPackageSchema>, 'format'> & { format: 'oci' };
export type RpmPackageDoc = Omit<FromSchema<typeof rpmPackageSchema>, 'format'> & { format: 'rpm' };
/** A package file, discriminated by `format`. */
export type PackageDoc = DebPackageDoc | OciPackageDoc | RpmPackageDoc;
export type AptDistributionDoc = Omit<FromSchema<typeof aptDistributionSchema>, 'format'> & { format: 'apt' };
export type RegistryDistributionDoc = Omit<FromSchema<typeof registryDistributionSchema>, 'format'> & { format: 'registry' };
export type DnfDistributionDoc = Omit<FromSchema<typeof dnfDistributionSchema>, 'format'> & { format: 'dnf' };
/** A distribution file, discriminated by `format`. */
export type DistributionDoc = AptDistributionDoc | RegistryDistributionDoc | DnfDistributionDoc;
export type Limits = FromSchema<typeof limitsSchema>;
export type ForgeConfig = FromSchema<typeof forgeSchema>;

/** Where each kind of file lives in the metadata repo. */
export const METADATA_LAYOUT = {
  config: 'kiln.yaml',
  packagesDir: 'packages',
  distributionsDir: 'distributions',
  keysDir: 'keys',
} as const;

/** Bounds enforced before parsing, so hostile input cannot exhaust memory. */
export const METADATA_LIMITS = {
  maxFileBytes: 256 * 1024,
  maxAliasCount: 50,
  maxFiles: 100_000,
  /** Flow brackets ([ {) open at once; deeper input overflows the YAML parser's stack. */
  maxFlowDepth: 64,
} as const;
