// Broker credentials files (schema/broker.ts): parse one with file:line:col
// errors, render one, make a new nkey identity, and turn one into the NATS
// client's connect options.
import { createUser, fromSeed } from '@nats-io/nkeys';
import { nkeyAuthenticator, usernamePasswordAuthenticator, type ConnectionOptions } from '@nats-io/transport-node';
import { LineCounter, parseDocument } from 'yaml';
import { brokerCredentialsSchema, inboxPrefix, type BrokerCredentials } from '../../schema/broker.ts';
import type { Diagnostic } from '../../schema/errors.ts';
import { validators } from '../../schema/validate.ts';
import { schemaDiagnostics } from '../desired/schema-errors.ts';
import { indexPositions } from '../desired/yaml-positions.ts';
import { readCredentialsFile } from '../keys/read-credentials-file.ts';

const MAX_BYTES = 64 * 1024;

/** Pure: the credentials in `text`, or the problems with file:line:col. */
export function parseCredentials(file: string, text: string): { value?: BrokerCredentials; diagnostics: Diagnostic[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, strict: true });
  if (doc.errors.length) {
    return { diagnostics: doc.errors.map((e) => ({ file, line: e.linePos?.[0].line, col: e.linePos?.[0].col, message: `YAML: ${e.message.split('\n')[0]}`, severity: 'error' })) };
  }
  const data: unknown = doc.toJS({ maxAliasCount: 10 });
  const validate = validators.brokerCredentials;
  if (!validate(data)) {
    const positions = indexPositions(doc, lineCounter);
    const found = schemaDiagnostics(file, validate.errors ?? [], brokerCredentialsSchema, data, positions);
    return { diagnostics: found.length ? found : [{ file, line: 1, col: 1, message: 'expected user and either password or nkey', severity: 'error' }] };
  }
  return { value: data, diagnostics: [] };
}

/** Read and check a credentials file; a bad one is a usage error naming file, line and field. */
export function readCredentials(file: string): Promise<BrokerCredentials> {
  return readCredentialsFile(file, { what: 'NATS credentials', maxBytes: MAX_BYTES, parse: parseCredentials });
}

/** The public key of an nkey seed (what the server config lists). */
export function publicKeyOf(seed: string): string {
  return fromSeed(new TextEncoder().encode(seed)).getPublicKey();
}

/** A fresh user nkey: the seed stays in the credentials file, the public key goes to the server. */
export function newUserNkey(): { seed: string; publicKey: string } {
  const kp = createUser();
  return { seed: new TextDecoder().decode(kp.getSeed()), publicKey: kp.getPublicKey() };
}

/** Who the server sees: the nkey's public key, or the user name. Names the client's reply inbox. */
export function identityOf(c: BrokerCredentials): string {
  return c.nkey ? publicKeyOf(c.nkey) : c.user;
}

/** Pure: the credentials file text, with a header saying what it is for. */
export function renderCredentials(c: BrokerCredentials, comment: string): string {
  const lines = [`# ${comment}`, '# Secret: keep it mode 0600. Pass it with --nats-credentials FILE.', `user: ${c.user}`];
  if (c.nkey) lines.push(`nkey: ${c.nkey}`);
  if (c.password) lines.push(`password: ${JSON.stringify(c.password)}`);
  if (c.ca) lines.push('ca: |', ...c.ca.trimEnd().split('\n').map((l) => `  ${l}`));
  return lines.join('\n') + '\n';
}

/** The NATS client options these credentials stand for. */
export function connectOptionsOf(c: BrokerCredentials): Pick<ConnectionOptions, 'authenticator' | 'inboxPrefix' | 'tls'> {
  return {
    authenticator: c.nkey ? nkeyAuthenticator(new TextEncoder().encode(c.nkey)) : usernamePasswordAuthenticator(c.user, c.password),
    inboxPrefix: inboxPrefix(identityOf(c)),
    ...(c.ca ? { tls: { ca: c.ca } } : {}),
  };
}
