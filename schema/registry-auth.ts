// Registry credentials: the containers-auth.json file (what `podman login`,
// `skopeo login --authfile` and Docker's config.json hold) that
// `kiln agent --registry-auth FILE` and `kiln reconcile --registry-auth FILE` read,
// and that `kiln up` writes per run. One entry per registry HOST[:PORT]; `auth`
// is base64 of `user:password`. Only the keys Kiln reads are checked: Docker's
// config.json carries other settings beside `auths`.
import type { FromSchema } from 'json-schema-to-ts';
import { REGISTRY_HOST_PATTERN } from './metadata.ts';

const DIALECT = 'https://json-schema.org/draft/2020-12/schema';

export const registryAuthSchema = {
  $schema: DIALECT,
  $id: 'https://kiln.dev/schema/registry-auth.json',
  title: 'Kiln registry credentials (containers-auth.json)',
  type: 'object',
  required: ['auths'],
  properties: {
    auths: {
      type: 'object',
      description: 'Credentials by registry HOST[:PORT], as image references name it.',
      propertyNames: { pattern: REGISTRY_HOST_PATTERN },
      additionalProperties: {
        type: 'object',
        required: ['auth'],
        properties: {
          auth: { type: 'string', pattern: '^[A-Za-z0-9+/]+={0,2}$', maxLength: 4096, description: 'base64 of USER:PASSWORD.' },
        },
      },
    },
  },
} as const;

export type RegistryAuthDoc = FromSchema<typeof registryAuthSchema>;
