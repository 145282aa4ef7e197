// Contracts with a forge (GitHub, Gitea, Forgejo): the commit-status records
// Kiln keeps on kiln/status (its durable outbox), the local delivery journal,
// and the parts of webhook payloads Kiln reads.
import type { FromSchema } from 'json-schema-to-ts';

const DIALECT = 'https://json-schema.org/draft/2020-12/schema';

/** Status contexts Kiln posts. */
export const FORGE_CONTEXTS = { reconcile: 'kiln/reconcile', check: 'kiln/check' } as const;
export type ForgeContext = (typeof FORGE_CONTEXTS)[keyof typeof FORGE_CONTEXTS];

/** The states of GitHub's status API (Gitea and Forgejo add `warning`, which Kiln does not use). */
export const FORGE_STATES = ['pending', 'success', 'failure', 'error'] as const;
export type ForgeState = (typeof FORGE_STATES)[number];

/** GitHub truncates longer descriptions; Kiln shortens them itself so the record says what was sent. */
export const FORGE_DESCRIPTION_MAX = 140;

/** Where a commit's status record lives on kiln/status. */
export const forgeStatusPath = (commit: string) => `forge/statuses/${commit}.yaml`;

const forgeStatusSchema = {
  type: 'object',
  additionalProperties: false,
  required: ['state', 'description', 'at'],
  properties: {
    state: { enum: FORGE_STATES },
    description: { type: 'string', maxLength: FORGE_DESCRIPTION_MAX },
    at: { type: 'string', minLength: 10 },
  },
} as const;

/** The statuses one commit must show under one context, in the order they are posted: `pending`, then at most one final state. */
const statusListProperties = {
  commit: { type: 'string', pattern: '^[0-9a-f]{40}$' },
  statuses: { type: 'array', minItems: 1, maxItems: 2, items: forgeStatusSchema },
} as const;

/**
 * `kiln/reconcile` of one desired commit, on kiln/status. Written in the same
 * signed status commit as the outcome it reports, and never changed once final:
 * compare-and-set on the branch makes the decision once.
 */
export const forgeStatusRecordSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/forge-status-record.json',
  type: 'object',
  additionalProperties: false,
  required: ['commit', 'context', 'statuses'],
  properties: { ...statusListProperties, context: { const: FORGE_CONTEXTS.reconcile } },
} as const;

/** `kiln/check` of a pull-request head, kept in the reconciler's state dir until posted (not a desired commit: not on kiln/status). */
export const checkOutboxEntrySchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/forge-check-entry.json',
  type: 'object',
  additionalProperties: false,
  required: ['commit', 'context', 'statuses'],
  properties: { ...statusListProperties, context: { const: FORGE_CONTEXTS.check }, pullRequest: { type: 'integer', minimum: 0 } },
} as const;

/** The fields of a push event Kiln reads (GitHub, Gitea and Forgejo send the same names). */
export const pushEventSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/webhook-push.json',
  type: 'object',
  required: ['ref', 'after'],
  properties: {
    ref: { type: 'string', minLength: 1, maxLength: 1024 },
    after: { type: 'string', pattern: '^[0-9a-f]{40}$' },
  },
} as const;

/** The fields of a pull_request event Kiln reads. */
export const pullRequestEventSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/webhook-pull-request.json',
  type: 'object',
  required: ['action', 'pull_request'],
  properties: {
    action: { type: 'string', maxLength: 64 },
    number: { type: 'integer', minimum: 0 },
    pull_request: {
      type: 'object',
      required: ['head'],
      properties: {
        number: { type: 'integer', minimum: 0 },
        head: { type: 'object', required: ['sha'], properties: { sha: { type: 'string', pattern: '^[0-9a-f]{40}$' }, ref: { type: 'string' } } },
        base: { type: 'object', properties: { ref: { type: 'string' } } },
      },
    },
  },
} as const;

/** Webhook bodies larger than this are refused (413) before they are read to the end. */
export const WEBHOOK_MAX_BYTES = 1024 * 1024;

export type ForgeStatus = FromSchema<typeof forgeStatusSchema>;
export type ForgeStatusRecord = FromSchema<typeof forgeStatusRecordSchema>;
export type CheckOutboxEntry = FromSchema<typeof checkOutboxEntrySchema>;
export type PushEvent = FromSchema<typeof pushEventSchema>;
export type PullRequestEvent = FromSchema<typeof pullRequestEventSchema>;
