// Registry credentials (schema/registry-auth.ts): check a containers-auth.json
// with file:line errors (read by reconciler/cli/registry-auth.ts), render one (kiln up), and pick a
// host's user and password (Docker's pull takes them as `authconfig`; skopeo reads
// the file itself with --authfile, so the secret never appears in a command line).
import { LineCounter, parseDocument, isNode } from 'yaml';
import type { Diagnostic } from '../schema/errors.ts';
import type { RegistryAuthDoc } from '../schema/registry-auth.ts';
import { validators } from '../schema/validate.ts';

export interface RegistryCredential {
  username: string;
  password: string;
}

/** A checked credentials file: its path (what skopeo gets) and each host's credential. */
export interface RegistryAuth {
  file: string;
  hosts: ReadonlyMap<string, RegistryCredential>;
}

/** Pure: base64 of USER:PASSWORD, as containers-auth.json stores it. */
export const encodeAuth = (c: RegistryCredential) => Buffer.from(`${c.username}:${c.password}`, 'utf8').toString('base64');

/** Pure: the text of a containers-auth.json with one entry per host. */
export function renderAuthFile(hosts: Record<string, RegistryCredential>): string {
  const auths = Object.fromEntries(Object.entries(hosts).sort(([a], [b]) => a.localeCompare(b)).map(([h, c]) => [h, { auth: encodeAuth(c) }]));
  return JSON.stringify({ auths }, null, 2) + '\n';
}

/** Pure: the credentials in `text`, or the problems with file:line (a JSON file, read as YAML for positions). */
export function parseRegistryAuth(file: string, text: string): { value?: RegistryAuth; diagnostics: Diagnostic[] } {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true });
  const at = (offset: number | undefined) => (offset === undefined ? { line: 1, col: 1 } : lineCounter.linePos(offset));
  /** Line and column of the value at `path` (the top of the file when there is none). */
  const where = (path: string[]) => {
    const node = doc.getIn(path, true);
    return at(isNode(node) ? node.range?.[0] : undefined);
  };
  if (doc.errors.length) return { diagnostics: doc.errors.map((e) => ({ file, ...at(e.pos[0]), message: `not JSON: ${e.message.split('\n')[0]}`, severity: 'error' })) };
  const data: unknown = doc.toJS({ maxAliasCount: 0 });
  const validate = validators.registryAuth;
  if (!validate(data)) {
    const diagnostics: Diagnostic[] = (validate.errors ?? []).map((e) => {
      const path = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
      const field = [...path, ...(e.params && 'missingProperty' in e.params ? [String(e.params.missingProperty)] : [])].join('.') || '(top level)';
      return { file, ...where(path), message: `${field}: ${e.message ?? 'invalid'}`, severity: 'error' };
    });
    return { diagnostics };
  }
  const hosts = new Map<string, RegistryCredential>();
  const problems: Diagnostic[] = [];
  for (const [host, entry] of Object.entries((data as RegistryAuthDoc).auths)) {
    const plain = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = plain.indexOf(':');
    if (colon <= 0) {
      problems.push({ file, ...where(['auths', host, 'auth']), message: `auths.${host}.auth: not base64 of USER:PASSWORD`, severity: 'error' });
      continue;
    }
    hosts.set(host, { username: plain.slice(0, colon), password: plain.slice(colon + 1) });
  }
  return problems.length ? { diagnostics: problems } : { value: { file, hosts }, diagnostics: [] };
}

/** Docker's `authconfig` for pulling from `registry` (undefined: pull anonymously). */
export function dockerAuthConfig(auth: RegistryAuth | undefined, registry: string): { username: string; password: string; serveraddress: string } | undefined {
  const c = auth?.hosts.get(registry);
  return c ? { ...c, serveraddress: registry } : undefined;
}
