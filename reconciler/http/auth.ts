// Who may call what: read endpoints are public unless the server says
// otherwise; everything else needs `Authorization: Bearer <token>` whose role
// (viewer < operator < admin) allows it. The token file is re-read when it
// changes, so `kiln tokens add|revoke` take effect without a restart.
import { stat } from 'node:fs/promises';
import type { Role, TokenEntry } from '../../schema/api.ts';
import { matchToken, readTokenFile, roleAllows } from './tokens-file.ts';

export type AuthVerdict = { ok: true; token?: TokenEntry } | { ok: false; status: 401 | 403; code: string; message: string };

export class Authorizer {
  private loaded: { mtimeMs: number; size: number; tokens: TokenEntry[] } | undefined;

  constructor(
    private readonly tokensFile: string | undefined,
    private readonly publicRead: boolean,
  ) {}

  private async tokens(): Promise<TokenEntry[]> {
    if (!this.tokensFile) return [];
    const st = await stat(this.tokensFile).catch(() => undefined);
    if (!st) return [];
    if (!this.loaded || this.loaded.mtimeMs !== st.mtimeMs || this.loaded.size !== st.size) {
      this.loaded = { mtimeMs: st.mtimeMs, size: st.size, tokens: (await readTokenFile(this.tokensFile)).tokens };
    }
    return this.loaded.tokens;
  }

  async check(authorization: string | undefined, need: Role): Promise<AuthVerdict> {
    if (need === 'viewer' && this.publicRead) return { ok: true };
    const m = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
    if (!m) return { ok: false, status: 401, code: 'KILN_UNAUTHORIZED', message: `this endpoint needs a bearer token with role ${need} (Authorization: Bearer <token>; see \`kiln tokens add\`)` };
    const token = matchToken(await this.tokens(), m[1]);
    if (!token) return { ok: false, status: 401, code: 'KILN_UNAUTHORIZED', message: 'unknown or revoked token' };
    if (!roleAllows(token.role, need)) return { ok: false, status: 403, code: 'KILN_FORBIDDEN', message: `token '${token.name}' has role ${token.role}; this endpoint needs ${need}` };
    return { ok: true, token };
  }
}
