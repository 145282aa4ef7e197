// Broker credentials: the file `kiln nats-config` writes per role and that
// `--nats-credentials FILE` reads (YAML), plus the naming rules both the
// server config and the clients must agree on.
import type { FromSchema } from 'json-schema-to-ts';

const DIALECT = 'https://json-schema.org/draft/2020-12/schema';

/** A NATS user name that is also one subject token (it names the user's reply inbox). */
export const BROKER_USER_PATTERN = '^[A-Za-z0-9_-]{1,64}$';

export const brokerCredentialsSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/broker-credentials.json',
  title: 'Kiln broker credentials',
  type: 'object',
  additionalProperties: false,
  required: ['user'],
  properties: {
    user: { type: 'string', pattern: BROKER_USER_PATTERN, description: 'User name (with a password) or label (with an nkey).' },
    password: { type: 'string', minLength: 1, maxLength: 1024, description: 'Password; the server holds its bcrypt hash.' },
    nkey: { type: 'string', pattern: '^SU[A-Z2-7]{56}$', description: 'The user nkey seed; the server holds its public key.' },
    ca: { type: 'string', pattern: '-----BEGIN CERTIFICATE-----', description: 'PEM certificate(s) to trust for the broker\'s TLS certificate.' },
  },
  // One way to authenticate (the branches repeat the property for ajv's strict mode).
  oneOf: [
    { required: ['password'], properties: { password: true } },
    { required: ['nkey'], properties: { nkey: true } },
  ],
} as const;

export type BrokerCredentials = FromSchema<typeof brokerCredentialsSchema>;

/**
 * Reply subjects of a client are `<prefix>.<nuid>`. Every client with credentials
 * uses its own prefix, so the server can let an agent subscribe only to its own
 * replies: with the shared default `_INBOX.>` it could read the jobs another
 * pool's agent pulls.
 */
export const inboxPrefix = (identity: string) => `_INBOX_${identity}`;

/** Role names in the server config and credentials files. */
export const BROKER_USERS = {
  reconciler: 'reconciler',
  agent: (pool: string) => `agent-${pool}`,
} as const;
