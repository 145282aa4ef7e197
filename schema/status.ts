// Schemas of the records on the status branch (kiln/status): the observed state.
import type { FromSchema } from 'json-schema-to-ts';
import { FINGERPRINT_PATTERN } from './metadata.ts';
import { imageIndexRecordSchema, ociImageBody } from './oci.ts';

const DIALECT = 'https://json-schema.org/draft/2020-12/schema';

export const STATUS_BRANCH = 'kiln/status';
export const STATUS_REF = `refs/heads/${STATUS_BRANCH}`;
/** The operator's accepted root of trust, a local ref in the metadata repo (never pushed). */
export const TRUST_ROOT_REF = 'refs/kiln/trust-root';

/** Paths on the status branch. */
export const STATUS_LAYOUT = {
  build: (key: string) => `builds/${key}.yaml`,
  signature: (sha256: string) => `signatures/${sha256}.asc`,
  release: (dist: string) => `releases/${dist}.yaml`,
  gate: (dist: string, pkg: string, version: string) => `gates/${dist}/${pkg}_${version}.yaml`,
  check: (commit: string) => `checks/${commit}.yaml`,
  /** The reconciler's own condition (Flux style): whether the last pass did all it planned, and if not, which step failed. */
  condition: (type: string) => `conditions/${type}.yaml`,
} as const;

/** Commit trailers of status commits; `git log` greps on these. */
export const TRAILERS = {
  desired: 'Kiln-Desired',
  builds: 'Kiln-Builds',
  releases: 'Kiln-Releases',
  refused: 'Kiln-Refused',
} as const;

const sha256 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
const isoTime = { type: 'string', minLength: 10 } as const;

export const artifactSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'sha256', 'size'],
  properties: {
    // A plain file name: Debian's characters, and rpm's ^ (a version after a release, e.g. 1.10^git1).
    name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._+~^-]*$' },
    sha256,
    size: { type: 'integer', minimum: 0 },
  },
} as const;

/** Everything that determines a build's output; its canonical JSON hashes to the build key. */
export const buildInputsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['package', 'version', 'source', 'recipe', 'image', 'arch', 'target'],
  properties: {
    package: { type: 'string' },
    version: { type: 'string' },
    source: {
      type: 'object',
      additionalProperties: false,
      required: ['url', 'commit'],
      properties: { url: { type: 'string' }, commit: { type: 'string' }, subdir: { type: 'string' } },
    },
    recipe: {
      type: 'object',
      additionalProperties: false,
      required: ['format', 'rebuild'],
      properties: {
        format: { type: 'string' },
        rebuild: { type: 'integer' },
        /** format oci: what the agent builds and where it pushes it (paths relative to the source subdir). */
        oci: {
          type: 'object',
          additionalProperties: false,
          required: ['dockerfile', 'context', 'repository'],
          properties: {
            dockerfile: { type: 'string' },
            context: { type: 'string' },
            /** Repository in the candidate registry (host comes from the agent's configuration). */
            repository: { type: 'string' },
            /** The base image by digest, in the candidate registry: host/repo@sha256:… (a base package's build, resolved by the planner). */
            from: { type: 'string' },
            /** Binary packages of the repo the agent puts into the build context (.kiln-debs/) from the job's buildFrom source. */
            install: { type: 'array', items: { type: 'string' } },
          },
        },
        spec: { type: 'string', description: 'rpm: the spec file, relative to the source subdir.' },
      },
    },
    image: { type: 'string' },
    arch: { type: 'string' },
    target: { type: 'string' },
    builtAgainst: {
      type: 'object',
      additionalProperties: { type: 'string' },
      description: "In-repo Build-Depends it is built against: producing package -> its version, or version@build key when that package's rebuildDependents is always.",
    },
    binNMU: {
      type: 'integer',
      minimum: 1,
      description: 'A rebuild of an unchanged source version against new dependencies: the binaries are versioned <version>+kiln<binNMU> (schema/binnmu.ts).',
    },
  },
} as const;

export const FAILURE_CLASSES = ['build', 'limit', 'infra', 'poison', 'integrity'] as const;

export const attemptSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['n', 'dispatchedAt'],
  properties: {
    n: { type: 'integer', minimum: 1 },
    dispatchedAt: isoTime,
    agent: { type: 'string' },
    startedAt: isoTime,
    finishedAt: isoTime,
    outcome: { enum: ['succeeded', 'failed'] },
    failureClass: { enum: FAILURE_CLASSES },
    reason: { type: 'string' },
    exitCode: { type: 'integer' },
    oomKilled: { type: 'boolean' },
    timedOut: { type: 'boolean' },
  },
} as const;

/** A part of an rpm file name (NAME, VERSION, RELEASE): publish/dnf/layout.ts RPM_FILE_NAME's characters. */
const RPM_NAME_PART = '^[A-Za-z0-9][A-Za-z0-9._+~^-]*$';
/** The header architectures a Kiln rpm build may carry (rpm/arch.ts: each Kiln architecture's rpm name). */
export const RPM_HEADER_ARCHES = ['noarch', 'x86_64', 'aarch64', 'armv7hl', 'i686', 'ppc64le', 's390x', 'riscv64'] as const;
export type RpmHeaderArch = (typeof RPM_HEADER_ARCHES)[number];

/** An artifact signed in place (an rpm's header signed by the release key, at collect or as it was published): its new digest and the signature. */
export const signedArtifactSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'built', 'sha256', 'size', 'signingKey'],
  properties: {
    name: artifactSchema.properties.name,
    /** sha256 of the built artifact (in `artifacts`) it was made from. */
    built: sha256,
    sha256,
    size: { type: 'integer', minimum: 0 },
    signingKey: { type: 'string', pattern: FINGERPRINT_PATTERN },
    /** The embedded OpenPGP signature (rpm: the header signature), ASCII-armored. */
    signature: { type: 'string' },
    /**
     * rpm: what rpm read from the built bytes' header at collect (the signed copy's main header is
     * those same bytes): a publish by `signingKey` trusts it for a copy whose sha256 matches. Fields
     * in the characters of an rpm file name (the publisher's rule); `source` absent (recorded before
     * it was kept): rpm reads the header at publish.
     */
    rpm: {
      type: 'object',
      additionalProperties: false,
      required: ['name', 'version', 'release', 'arch'],
      properties: {
        name: { type: 'string', pattern: RPM_NAME_PART },
        epoch: { type: 'string', pattern: '^[0-9]+$' },
        version: { type: 'string', pattern: RPM_NAME_PART },
        release: { type: 'string', pattern: RPM_NAME_PART },
        arch: { enum: RPM_HEADER_ARCHES },
        /** A source package (its header names no source rpm). */
        source: { type: 'boolean' },
      },
    },
  },
} as const;

export const buildRecordSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/build-record.json',
  type: 'object',
  additionalProperties: false,
  required: ['key', 'inputs', 'pool', 'state', 'attempts', 'desiredCommit'],
  properties: {
    key: sha256,
    inputs: buildInputsSchema,
    pool: { type: 'string' },
    desiredCommit: { type: 'string', description: 'The desired-state commit that asked for this build.' },
    /** queued: dispatched, no result yet; failed with retryAt: waiting for another attempt. */
    state: { enum: ['queued', 'succeeded', 'failed'] },
    attempts: { type: 'array', items: attemptSchema },
    retryAt: { ...isoTime, description: 'When a retryable failure may be dispatched again.' },
    retryBase: { type: 'integer', minimum: 0, description: 'Attempts up to this number were before the last `kiln retry`; they do not count against maxAttempts.' },
    failure: {
      type: 'object',
      additionalProperties: false,
      required: ['class', 'reason', 'retryable'],
      properties: {
        class: { enum: FAILURE_CLASSES },
        reason: { type: 'string' },
        retryable: { type: 'boolean' },
        logTail: { type: 'string' },
      },
    },
    artifacts: { type: 'array', items: artifactSchema },
    signed: { type: 'array', items: signedArtifactSchema, description: "format rpm: the releasable rpms, each header signed by the reconciler's key when the result was collected (the copies a publish by that key serves)." },
    /** format oci: the image as the candidate registry served it when the result was recorded (its image.json artifact holds the same). */
    image: ociImageBody,
    log: {
      type: 'object',
      additionalProperties: false,
      required: ['sha256', 'size'],
      properties: {
        sha256,
        size: { type: 'integer', minimum: 0 },
        /** The log in the object store. */
        object: { type: 'string' },
        /** A small log that came in its result (no object; messages.ts INLINE_LOG_MAX): its text split at line breaks (joined with "\n", it hashes to sha256). */
        lines: { type: 'array', items: { type: 'string' } },
      },
    },
  },
} as const;

export const releasedPackageSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'version', 'builds'],
  properties: {
    name: { type: 'string' },
    version: { type: 'string' },
    /** arch -> build key */
    builds: { type: 'object', additionalProperties: sha256 },
    artifacts: { type: 'array', items: artifactSchema },
    /** The artifacts as published, where the release target signs them in place (dnf). */
    signed: { type: 'array', items: signedArtifactSchema },
    publishedAt: isoTime,
  },
} as const;

export const rejectedPackageSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'version', 'builds', 'reason', 'at'],
  properties: {
    name: { type: 'string' },
    version: { type: 'string' },
    /** arch -> build key: a rebuild (new keys) is tried again. */
    builds: { type: 'object', additionalProperties: sha256 },
    reason: { type: 'string' },
    at: isoTime,
  },
} as const;

export const releasedTagSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['repository', 'tag', 'digest', 'desiredCommit'],
  properties: {
    repository: { type: 'string' },
    tag: { type: 'string' },
    digest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' },
    package: { type: 'string' },
    version: { type: 'string' },
    desiredCommit: { type: 'string' },
    /** The "simple signing" signature of this tag on this digest, as served in the distribution's lookaside (<dist>/sigstore/<file>). */
    signature: {
      type: 'object',
      additionalProperties: false,
      required: ['file', 'sha256', 'signingKey'],
      properties: { file: { type: 'string' }, sha256, signingKey: { type: 'string' } },
    },
    /** When `digest` is an image index: this tag's signature on each of its images (by the same key, in the same lookaside). */
    imageSignatures: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['digest', 'file', 'sha256'],
        properties: { digest: { type: 'string', pattern: '^sha256:[0-9a-f]{64}$' }, file: { type: 'string' }, sha256 },
      },
    },
  },
} as const;

export const releaseRecordSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/release-record.json',
  type: 'object',
  additionalProperties: false,
  required: ['distribution', 'desiredCommit', 'packages'],
  properties: {
    distribution: { type: 'string' },
    desiredCommit: { type: 'string' },
    publishedAt: isoTime,
    signingKey: { type: 'string' },
    /** sha256 of the Release file as published, to detect drift of the served repo. */
    releaseSha256: sha256,
    packages: { type: 'array', items: releasedPackageSchema },
    /** Packages this distribution cannot publish (the rest of it was published without them), and why. */
    rejected: { type: 'array', items: rejectedPackageSchema },
    /** Registry distributions: every tag published, the digest it points at and the desired commit that released that digest under it. */
    tags: { type: 'array', items: releasedTagSchema },
    /** Registry distributions: each version built for several architectures, as the one image index its tags point at. */
    indexes: { type: 'array', items: imageIndexRecordSchema },
  },
} as const;

export const gateRecordSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/gate-record.json',
  type: 'object',
  additionalProperties: false,
  required: ['distribution', 'from', 'package', 'version', 'verdict', 'at'],
  properties: {
    distribution: { type: 'string' },
    from: { type: 'string' },
    package: { type: 'string' },
    version: { type: 'string' },
    gate: { type: 'string' },
    /** arch -> build key of the builds the verdict is about: a rebuild of the same version is gated again. */
    builds: { type: 'object', additionalProperties: sha256 },
    verdict: { enum: ['passed', 'failed'] },
    reason: { type: 'string' },
    logTail: { type: 'string' },
    at: isoTime,
  },
} as const;

export const checkRecordSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/check-record.json',
  type: 'object',
  additionalProperties: false,
  required: ['commit', 'verdict', 'at'],
  properties: {
    commit: { type: 'string' },
    verdict: { enum: ['trusted', 'refused', 'invalid', 'valid'] },
    signer: { type: 'string' },
    reason: { type: 'string' },
    diagnostics: { type: 'array', items: { type: 'string' } },
    at: isoTime,
  },
} as const;

/** Steps of a pass that can fail after results were collected (the failing one is named in the condition). */
export const PASS_STEPS = ['dispatch', 'gate', 'publish', 'record'] as const;

export const conditionRecordSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/condition-record.json',
  type: 'object',
  additionalProperties: false,
  required: ['type', 'status', 'reason', 'message', 'since'],
  properties: {
    type: { enum: ['Ready'] },
    status: { enum: ['True', 'False'] },
    /** 'Reconciled', '<Step>Failed' (DispatchFailed, GateFailed, PublishFailed), or ResultsUnjudged (the reconciler could not read results' images back). */
    reason: { type: 'string', pattern: '^[A-Z][A-Za-z]+$' },
    message: { type: 'string' },
    step: { enum: PASS_STEPS },
    /** When status or reason last changed: a pass that changes neither writes nothing. */
    since: isoTime,
  },
} as const;

export type Artifact = FromSchema<typeof artifactSchema>;
export type BuildInputs = FromSchema<typeof buildInputsSchema>;
export type BuildAttempt = FromSchema<typeof attemptSchema>;
export type BuildRecord = FromSchema<typeof buildRecordSchema>;
/** What rpm read of a built rpm's header at collect (build record `signed[].rpm`). */
export type RpmHeaderFacts = NonNullable<NonNullable<BuildRecord['signed']>[number]['rpm']>;
export type FailureClass = (typeof FAILURE_CLASSES)[number];
export type ReleasedPackage = FromSchema<typeof releasedPackageSchema>;
export type ReleaseRecord = FromSchema<typeof releaseRecordSchema>;
export type RejectedPackage = FromSchema<typeof rejectedPackageSchema>;
export type ReleasedTag = FromSchema<typeof releasedTagSchema>;
export type GateRecord = FromSchema<typeof gateRecordSchema>;
export type CheckRecord = FromSchema<typeof checkRecordSchema>;
export type ConditionRecord = FromSchema<typeof conditionRecordSchema>;
export type PassStepName = (typeof PASS_STEPS)[number];
