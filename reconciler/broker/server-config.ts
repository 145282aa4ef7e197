// Pure: a nats-server 2.9 configuration file for Kiln: JetStream on, one
// account (KILN) whose users are the reconciler and one user per agent pool,
// each identified by an nkey public key and limited by its permissions; TLS
// when a certificate is given.
import type { Permissions } from './permissions.ts';

export interface BrokerUser {
  /** Role label, written as a comment (nkey users have no name on the server). */
  label: string;
  publicKey: string;
  permissions: Permissions;
}

export interface ServerConfigOptions {
  /** host:port the server listens on. */
  listen: string;
  storeDir: string;
  users: BrokerUser[];
  tls?: { certFile: string; keyFile: string };
  /** Shown in the header comment. */
  generatedBy: string;
}

export const ACCOUNT = 'KILN';

const q = (s: string) => JSON.stringify(s);
const list = (xs: string[], indent: string) => `[\n${xs.map((x) => `${indent}  ${q(x)}`).join(',\n')}\n${indent}]`;

function userBlock(u: BrokerUser): string {
  const i = '          ';
  return [
    `      # ${u.label}`,
    '      {',
    `        nkey: ${q(u.publicKey)}`,
    '        permissions: {',
    `          publish: { allow: ${list(u.permissions.publish, i)} }`,
    `          subscribe: { allow: ${list(u.permissions.subscribe, i)} }`,
    '        }',
    '      }',
  ].join('\n');
}

export function renderServerConfig(o: ServerConfigOptions): string {
  const parts = [
    `# nats-server configuration for Kiln, written by ${o.generatedBy}.`,
    '# Each user is an nkey; its seed is in the matching credentials file (--nats-credentials).',
    `listen: ${q(o.listen)}`,
    '',
    'jetstream {',
    `  store_dir: ${q(o.storeDir)}`,
    '}',
    '',
  ];
  if (o.tls) {
    parts.push('tls {', `  cert_file: ${q(o.tls.certFile)}`, `  key_file: ${q(o.tls.keyFile)}`, '  timeout: 5', '}', '');
  }
  parts.push('accounts {', `  ${ACCOUNT}: {`, '    jetstream: enabled', '    users: [', o.users.map(userBlock).join(',\n'), '    ]', '  }', '}');
  return parts.join('\n') + '\n';
}
