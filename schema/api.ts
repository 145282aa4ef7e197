// The HTTP API's contract (/api/v1/): query parameters, request bodies and
// responses as JSON Schemas. The server validates with them (Fastify + ajv),
// serialises with them, and the API reference in the README is generated from
// them (scripts/api-reference). Records embedded in responses reuse the status
// branch's schemas, so the API says exactly what kiln/status says.
import type { FromSchema } from 'json-schema-to-ts';
import { agentInfoSchema } from './messages.ts';
import { buildRecordSchema, checkRecordSchema, gateRecordSchema, releaseRecordSchema } from './status.ts';

export const API_PREFIX = '/api/v1';

/** A schema embedded in another: without its own $schema/$id (one document, one dialect). */
function embedded<T extends { $schema?: string; $id?: string }>(s: T): Omit<T, '$schema' | '$id'> {
  const { $schema: _s, $id: _i, ...rest } = s;
  return rest;
}

const sha256 = { type: 'string', pattern: '^[0-9a-f]{64}$' } as const;
const commitId = { type: 'string', pattern: '^[0-9a-f]{40}$' } as const;
const nextCursor = { type: ['string', 'null'], description: 'Pass as `cursor` for the next page; null on the last page.' } as const;
const limit = (max: number, dflt: number) => ({ type: 'integer', minimum: 1, maximum: max, default: dflt, description: `Page size (1–${max}, default ${dflt}).` }) as const;
const cursor = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,200}$', description: 'The `nextCursor` of the previous page.' } as const;

export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const apiErrorSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['error'],
  properties: {
    error: {
      type: 'object',
      additionalProperties: false,
      required: ['code', 'message'],
      properties: {
        code: { type: 'string', description: 'Stable error code, e.g. KILN_BAD_REQUEST, KILN_NOT_FOUND, KILN_UNAUTHORIZED, KILN_FORBIDDEN.' },
        message: { type: 'string' },
        parameter: { type: 'string', description: 'The query parameter or body field at fault (400).' },
      },
    },
  },
} as const;

/** What the dashboard shows: `running` is a queued build some agent reports running. */
export const BUILD_STATES = ['queued', 'running', 'succeeded', 'failed'] as const;

const name = { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._+~-]{0,127}$' } as const;

export const buildsQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    state: { enum: BUILD_STATES, description: 'Only builds in this state.' },
    package: { ...name, description: 'Only builds of this package.' },
    pool: { ...name, description: 'Only builds of this agent pool.' },
    arch: { ...name, description: 'Only builds for this architecture.' },
    limit: limit(1000, 50),
    cursor,
  },
} as const;

export const buildSummarySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['key', 'package', 'version', 'arch', 'pool', 'state', 'attempt', 'desiredCommit', 'artifacts'],
  properties: {
    key: sha256,
    package: { type: 'string' },
    version: { type: 'string' },
    arch: { type: 'string' },
    pool: { type: 'string' },
    state: { enum: BUILD_STATES },
    attempt: { type: 'integer', minimum: 0, description: 'The latest attempt number (0: not dispatched yet).' },
    agent: { type: 'string', description: 'The agent of the latest attempt (or the one running it now).' },
    dispatchedAt: { type: 'string' },
    startedAt: { type: 'string' },
    finishedAt: { type: 'string' },
    durationSeconds: { type: 'number', description: 'Latest attempt, start to finish (or to now while running).' },
    failure: {
      type: 'object',
      additionalProperties: false,
      required: ['class', 'reason', 'retryable'],
      properties: { class: { type: 'string' }, reason: { type: 'string' }, retryable: { type: 'boolean' } },
    },
    retryAt: { type: 'string' },
    desiredCommit: { type: 'string' },
    artifacts: { type: 'array', items: { type: 'string' } },
  },
} as const;

export const buildListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['statusCommit', 'total', 'builds', 'nextCursor'],
  properties: {
    statusCommit: { type: ['string', 'null'] },
    total: { type: 'integer', minimum: 0, description: 'Builds matching the filters (all pages).' },
    builds: { type: 'array', items: buildSummarySchema },
    nextCursor,
  },
} as const;

export const buildKeyParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['key'],
  properties: { key: { type: 'string', pattern: '^[0-9a-f]{4,64}$', description: 'Build key or a unique prefix of it (at least 4 hex characters).' } },
} as const;

export const buildDetailSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['build', 'record', 'artifacts'],
  properties: {
    build: buildSummarySchema,
    record: embedded(buildRecordSchema),
    artifacts: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'sha256', 'size', 'signed'],
        properties: { name: { type: 'string' }, sha256, size: { type: 'integer' }, signed: { type: 'boolean', description: 'A detached signature is on kiln/status (signatures/<sha256>.asc).' } },
      },
    },
  },
} as const;

export const logQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { attempt: { type: 'integer', minimum: 1, description: 'This attempt instead of the latest stored one.' } },
} as const;

export const retryResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['key', 'retried'],
  properties: { key: sha256, retried: { type: 'boolean' }, state: { type: 'string' }, statusCommit: { type: 'string' } },
} as const;

export const agentSchema = {
  type: 'object',
  additionalProperties: false,
  required: [...agentInfoSchema.required, 'state', 'drainRequested', 'ageSeconds'],
  properties: {
    ...agentInfoSchema.properties,
    state: { enum: ['idle', 'busy', 'draining'], description: 'draining once asked to drain (it may not have seen it yet).' },
    drainRequested: { type: 'boolean' },
    ageSeconds: { type: 'integer', minimum: 0, description: 'Seconds since its last heartbeat.' },
  },
} as const;

export const agentListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['agents'],
  properties: { agents: { type: 'array', items: agentSchema } },
} as const;

export const agentIdParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['id'],
  properties: { id: { type: 'string', pattern: '^[A-Za-z0-9_=-]{1,200}$' } },
} as const;

export const drainResponseSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['agent', 'drainRequested', 'by'],
  properties: { agent: { type: 'string' }, drainRequested: { type: 'boolean' }, by: { type: 'string' } },
} as const;

export const PROMOTION_STATES = ['published', 'gate-passed', 'gate-failed', 'waiting-for-gate'] as const;

export const distributionSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'release', 'promotions'],
  properties: {
    name: { type: 'string' },
    suite: { type: 'string' },
    promoteFrom: { type: 'string', description: 'The distribution it promotes from (testing → gate → stable).' },
    gate: { type: 'string' },
    url: { type: 'string', description: 'Where the apt repository is served (relative to the server).' },
    release: { anyOf: [embedded(releaseRecordSchema), { type: 'null' }], description: 'What is published now, from which desired commit (null: nothing yet).' },
    promotions: {
      type: 'array',
      description: 'For a promoted distribution: each candidate of the source distribution and where it stands.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['package', 'version', 'state'],
        properties: { package: { type: 'string' }, version: { type: 'string' }, state: { enum: PROMOTION_STATES }, gate: embedded(gateRecordSchema) },
      },
    },
  },
} as const;

export const distributionListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['desiredCommit', 'distributions'],
  properties: { desiredCommit: { type: ['string', 'null'] }, distributions: { type: 'array', items: distributionSchema } },
} as const;

export const distributionParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['name'],
  properties: { name },
} as const;

const planItem = {
  type: 'object',
  required: ['reason', 'message'],
  properties: { kind: { type: 'string' }, reason: { type: 'string' }, message: { type: 'string' } },
  additionalProperties: true,
} as const;

export const planSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['desiredCommit', 'statusCommit', 'trust', 'actions', 'waiting'],
  properties: {
    desiredCommit: { type: 'string' },
    statusCommit: { type: ['string', 'null'] },
    trust: { type: 'object', additionalProperties: true, required: ['trusted', 'reason'], properties: { trusted: { type: 'boolean' }, reason: { type: 'string' } } },
    actions: { type: 'array', items: planItem, description: 'What the next pass would do, each with its reason.' },
    waiting: { type: 'array', items: planItem, description: 'What waits for something else (a build, a gate, a retry time).' },
  },
} as const;

export const checkListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['checks'],
  properties: { checks: { type: 'array', items: embedded(checkRecordSchema) } },
} as const;

export const checkParamsSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['commit'],
  properties: { commit: commitId },
} as const;

export const auditQuerySchema = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: limit(500, 50), cursor },
} as const;

export const auditEntrySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['commit', 'subject', 'date', 'author', 'trailers'],
  properties: {
    commit: commitId,
    subject: { type: 'string' },
    body: { type: 'string' },
    date: { type: 'string' },
    author: { type: 'string' },
    trailers: { type: 'object', additionalProperties: { type: 'array', items: { type: 'string' } }, description: 'Kiln-Desired, Kiln-Builds, Kiln-Releases, Kiln-Refused …' },
  },
} as const;

export const auditListSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['commits', 'nextCursor'],
  properties: { commits: { type: 'array', items: auditEntrySchema }, nextCursor },
} as const;

/** The bearer-token file `kiln tokens` manages: only sha256 digests of the tokens are kept. */
export const tokenFileSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://kiln.dev/schema/tokens.json',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'tokens'],
  properties: {
    version: { const: 1 },
    tokens: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'name', 'role', 'sha256', 'createdAt'],
        properties: {
          id: { type: 'string', pattern: '^[0-9a-f]{8,16}$' },
          name: { type: 'string', minLength: 1, maxLength: 100 },
          role: { enum: ROLES },
          sha256,
          createdAt: { type: 'string' },
        },
      },
    },
  },
} as const;

export type ApiError = FromSchema<typeof apiErrorSchema>;
export type BuildState = (typeof BUILD_STATES)[number];
export type BuildsQuery = FromSchema<typeof buildsQuerySchema>;
export type BuildSummary = FromSchema<typeof buildSummarySchema>;
export type BuildList = FromSchema<typeof buildListSchema>;
export type BuildDetail = FromSchema<typeof buildDetailSchema>;
export type ApiAgent = FromSchema<typeof agentSchema>;
export type ApiDistribution = FromSchema<typeof distributionSchema>;
export type PromotionState = (typeof PROMOTION_STATES)[number];
export type AuditEntry = FromSchema<typeof auditEntrySchema>;
export type TokenFile = FromSchema<typeof tokenFileSchema>;
export type TokenEntry = TokenFile['tokens'][number];

/** One endpoint: the source of the route table, its schemas and the generated API reference. */
export interface Endpoint {
  method: 'GET' | 'POST';
  url: string;
  summary: string;
  /** Read endpoints are public unless the server is started with public reads off; writes need this role. */
  role: Role;
  querystring?: object;
  params?: object;
  response?: object;
  /** Non-JSON responses (log text, Server-Sent Events). */
  produces?: string;
}

export const ENDPOINTS = {
  builds: { method: 'GET', url: '/builds', summary: 'Builds on kiln/status, newest first, with filters and cursor paging.', role: 'viewer', querystring: buildsQuerySchema, response: buildListSchema },
  build: { method: 'GET', url: '/builds/:key', summary: 'One build: its summary, the whole status record and its artifacts.', role: 'viewer', params: buildKeyParamsSchema, response: buildDetailSchema },
  buildLog: { method: 'GET', url: '/builds/:key/log', summary: "The stored log of the build's latest (or ?attempt=N) finished attempt.", role: 'viewer', params: buildKeyParamsSchema, querystring: logQuerySchema, produces: 'text/plain' },
  buildLogStream: {
    method: 'GET',
    url: '/builds/:key/log/stream',
    summary: 'The live log as Server-Sent Events: `data` events (one per line, from the beginning), `attempt` on a new attempt, `end` (succeeded|failed) when it ends.',
    role: 'viewer',
    params: buildKeyParamsSchema,
    produces: 'text/event-stream',
  },
  retry: { method: 'POST', url: '/builds/:key/retry', summary: 'Ask for another attempt of a failed build (a signed status commit).', role: 'operator', params: buildKeyParamsSchema, response: retryResponseSchema },
  agents: { method: 'GET', url: '/agents', summary: 'Live agents: pool, arch, state, running builds, last heartbeat.', role: 'viewer', response: agentListSchema },
  drain: { method: 'POST', url: '/agents/:id/drain', summary: 'Ask an agent to finish its builds, pull nothing new and exit.', role: 'operator', params: agentIdParamsSchema, response: drainResponseSchema },
  distributions: { method: 'GET', url: '/distributions', summary: 'Distributions of the desired state, what each publishes, and promotion state.', role: 'viewer', response: distributionListSchema },
  distribution: { method: 'GET', url: '/distributions/:name', summary: 'One distribution.', role: 'viewer', params: distributionParamsSchema, response: distributionSchema },
  plan: { method: 'GET', url: '/plan', summary: 'What the next pass would do, and what is waiting (as `kiln plan`).', role: 'viewer', response: planSchema },
  checks: { method: 'GET', url: '/checks', summary: 'Trust checks of desired-state commits (checks/<commit>.yaml), newest first.', role: 'viewer', response: checkListSchema },
  check: { method: 'GET', url: '/checks/:commit', summary: 'The check of one commit.', role: 'viewer', params: checkParamsSchema, response: embedded(checkRecordSchema) },
  audit: { method: 'GET', url: '/audit', summary: 'The audit trail: kiln/status commits, newest first, with their trailers.', role: 'viewer', querystring: auditQuerySchema, response: auditListSchema },
} as const satisfies Record<string, Endpoint>;
