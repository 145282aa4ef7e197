// Bearer tokens for the HTTP API, kept in a JSON file (schema/api.ts
// tokenFileSchema) that holds only each token's sha256: a stolen file grants
// nothing. A token is shown once, when it is made. Writes are atomic (temp file
// + rename, mode 0600); a token is checked against every entry timing-safely.
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { ROLES, type Role, type TokenEntry, type TokenFile } from '../../schema/api.ts';
import { NotFoundError, UsageError } from '../../schema/errors.ts';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { tokenFileSchema } from '../../schema/api.ts';

const validate = new Ajv2020({ allErrors: true, strict: true }).compile<TokenFile>(tokenFileSchema);

/** Tokens start with this, so secret scanners and people recognise them. */
export const TOKEN_PREFIX = 'kiln_';

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

/** Roles include the ones below them: admin > operator > viewer. */
export function roleAllows(have: Role, need: Role): boolean {
  return ROLES.indexOf(have) >= ROLES.indexOf(need);
}

export async function readTokenFile(file: string): Promise<TokenFile> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, tokens: [] };
    throw e;
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new UsageError(`${file}: not JSON: ${(e as Error).message}`, { file });
  }
  if (!validate(data)) {
    const first = validate.errors?.[0];
    throw new UsageError(`${file}: ${first?.instancePath || '/'} ${first?.message ?? 'invalid'}`, { file, field: first?.instancePath });
  }
  return data;
}

async function writeTokenFile(file: string, data: TokenFile): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, JSON.stringify(data, null, 2) + '\n', { mode: 0o600 });
  await rename(tmp, file);
}

/** Make a token; returns the secret (shown once) and its entry. */
export async function addToken(file: string, name: string, role: Role, now = new Date()): Promise<{ token: string; entry: TokenEntry }> {
  if (!ROLES.includes(role)) throw new UsageError(`--role takes one of ${ROLES.join(', ')}, got '${role}'`);
  if (!name || name.length > 100) throw new UsageError('--name takes 1 to 100 characters');
  const data = await readTokenFile(file);
  if (data.tokens.some((t) => t.name === name)) throw new UsageError(`a token named '${name}' exists in ${file}: revoke it first or pick another name`, { name });
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const sha256 = digest(token);
  const entry: TokenEntry = { id: sha256.slice(0, 12), name, role, sha256, createdAt: now.toISOString() };
  await writeTokenFile(file, { version: 1, tokens: [...data.tokens, entry] });
  return { token, entry };
}

/** Remove a token by id or name. */
export async function revokeToken(file: string, idOrName: string): Promise<TokenEntry> {
  const data = await readTokenFile(file);
  const hit = data.tokens.find((t) => t.id === idOrName || t.name === idOrName);
  if (!hit) throw new NotFoundError(`no token '${idOrName}' in ${file} (see \`kiln tokens list\`)`, { token: idOrName });
  await writeTokenFile(file, { version: 1, tokens: data.tokens.filter((t) => t !== hit) });
  return hit;
}

/** The entry a presented token belongs to, or undefined. Compares digests in constant time, against every entry. */
export function matchToken(tokens: readonly TokenEntry[], presented: string): TokenEntry | undefined {
  const got = Buffer.from(digest(presented), 'hex');
  let found: TokenEntry | undefined;
  for (const t of tokens) {
    if (timingSafeEqual(got, Buffer.from(t.sha256, 'hex')) && !found) found = t;
  }
  return found;
}
