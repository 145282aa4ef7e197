// Wire formats of NATS messages between the reconciler and agents.
import type { FromSchema } from 'json-schema-to-ts';
import { ERROR_KINDS } from './errors.ts';
import { artifactSchema, buildInputsSchema, FAILURE_CLASSES } from './status.ts';
import { ociImageBody } from './oci.ts';

const DIALECT = 'https://json-schema.org/draft/2020-12/schema';
const sha256 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;

/** A KilnError's toJSON() (errorFromJSON() reads it back, kind included). */
export const kilnErrorSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'code', 'kind', 'message', 'data'],
  properties: {
    name: { type: 'string' },
    code: { type: 'string' },
    kind: { enum: ERROR_KINDS },
    message: { type: 'string' },
    data: { type: 'object' },
  },
} as const;

export const resolvedLimitsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['memoryMiB', 'cpus', 'pids', 'timeoutSeconds'],
  properties: {
    // Docker's floors: 6 MB of memory, 0.01 CPU.
    memoryMiB: { type: 'integer', minimum: 6 },
    cpus: { type: 'number', minimum: 0.01 },
    pids: { type: 'integer', minimum: 1 },
    timeoutSeconds: { type: 'integer', minimum: 1 },
  },
} as const;

/** An extra apt source the dependency phase installs Build-Depends from: a distribution Kiln publishes (buildFrom). */
export const aptSourceSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['distribution', 'url', 'suite', 'components', 'key'],
  properties: {
    distribution: { type: 'string', pattern: '^[a-z0-9][a-z0-9+.-]{0,62}[a-z0-9+]$' },
    /** As agents reach it: <repoUrl>/<distribution>. */
    url: { type: 'string', maxLength: 2048, pattern: '^https?://[^\\s/]+(/[^\\s]*)?$' },
    suite: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]*$' },
    components: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]*$' } },
    /** The armored public key its Release files are signed with (apt's signed-by). */
    key: { type: 'string', maxLength: 65536, pattern: '^-----BEGIN PGP PUBLIC KEY BLOCK-----' },
  },
} as const;

export const buildJobSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/build-job.json',
  type: 'object',
  additionalProperties: false,
  required: ['v', 'key', 'attempt', 'inputs', 'pool', 'limits', 'dispatchedAt'],
  properties: {
    v: { const: 1 },
    key: sha256,
    attempt: { type: 'integer', minimum: 1 },
    inputs: buildInputsSchema,
    pool: { type: 'string' },
    limits: resolvedLimitsSchema,
    dispatchedAt: { type: 'string' },
    desiredCommit: { type: 'string' },
    /** The package's buildFrom distribution: Build-Depends come from the base archive plus this repository, preferred. */
    buildFrom: aptSourceSchema,
  },
} as const;

/**
 * A build log of at most this many bytes (UTF-8 text) travels in its BuildResult: `logTail` is
 * the whole log and `log.object` is absent (no object put; the status record keeps it as
 * `log.lines`). Bigger logs go into the object store.
 */
export const INLINE_LOG_MAX = 4096;

export const buildResultSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/build-result.json',
  type: 'object',
  additionalProperties: false,
  required: ['v', 'key', 'attempt', 'inputs', 'pool', 'agent', 'outcome', 'artifacts', 'startedAt', 'finishedAt'],
  properties: {
    v: { const: 1 },
    key: sha256,
    attempt: { type: 'integer', minimum: 1 },
    /** Echoed from the job, so a result can be recorded even if its dispatch never was. */
    inputs: buildInputsSchema,
    pool: { type: 'string' },
    desiredCommit: { type: 'string' },
    agent: { type: 'string' },
    outcome: { enum: ['succeeded', 'failed'] },
    failureClass: { enum: FAILURE_CLASSES },
    reason: { type: 'string' },
    /** The error that ended the attempt before the recipe ran (source fetch, Docker set-up); its kind chose failureClass. */
    error: kilnErrorSchema,
    exitCode: { type: 'integer' },
    oomKilled: { type: 'boolean' },
    timedOut: { type: 'boolean' },
    artifacts: { type: 'array', items: artifactSchema },
    /** The binary packages debian/control declares, read by the agent before the build ran (the reconciler checks every .deb against them). */
    binaries: { type: 'array', maxItems: 1000, items: { type: 'string', pattern: '^[a-z0-9][a-z0-9+.-]+$' } },
    /** The whole log's digest and size; `object` names it in the object store, absent when the log is small and all of it is in logTail (INLINE_LOG_MAX). */
    log: {
      type: 'object',
      additionalProperties: false,
      required: ['sha256', 'size'],
      properties: { sha256, size: { type: 'integer', minimum: 0 }, object: { type: 'string' } },
    },
    logTail: { type: 'string' },
    /** format oci: the image the agent pushed to the candidate registry (the reconciler verifies it there before recording anything). */
    image: ociImageBody,
    startedAt: { type: 'string' },
    finishedAt: { type: 'string' },
  },
} as const;

export const agentInfoSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/agent-info.json',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'pool', 'arch', 'running', 'startedAt', 'lastSeen', 'concurrency', 'draining'],
  properties: {
    id: { type: 'string' },
    pool: { type: 'string' },
    arch: { type: 'string' },
    host: { type: 'string' },
    concurrency: { type: 'integer', minimum: 1 },
    running: { type: 'array', items: { type: 'string' } },
    draining: { type: 'boolean' },
    startedAt: { type: 'string' },
    lastSeen: { type: 'string' },
  },
} as const;

export type ResolvedLimits = FromSchema<typeof resolvedLimitsSchema>;
export type BuildJob = FromSchema<typeof buildJobSchema>;
export type AptSource = FromSchema<typeof aptSourceSchema>;
export type BuildResult = FromSchema<typeof buildResultSchema>;
export type AgentInfo = FromSchema<typeof agentInfoSchema>;
