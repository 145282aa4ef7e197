// A local stand-in for a forge's REST API that checks every request Kiln sends
// against GitHub's official OpenAPI description (@octokit/openapi, the
// api.github.com document): the path must match an operation's template, the
// method must exist there, path and query parameters and the JSON body must
// validate against the operation's schemas (ajv). Commit statuses are recorded
// in order per commit. Faults can be injected (answer N requests with a status).
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';

interface Operation {
  operationId: string;
  parameters?: Array<{ name: string; in: string; required?: boolean; schema: object }>;
  requestBody?: { content: Record<string, { schema: object }> };
}
interface OpenApi {
  paths: Record<string, Record<string, Operation>>;
  components: object;
}

export interface RecordedStatus {
  context: string;
  state: string;
  description?: string | null;
  target_url?: string | null;
}

export interface Fault {
  status: number;
  headers?: Record<string, string>;
  message?: string;
  /** Record the status, then never answer (the sender's answer is lost). */
  hang?: 'after-recording' | 'before-recording';
}

export interface ForgeApi {
  /** Base URL to give Kiln as the forge's apiUrl. */
  url: string;
  /** Statuses by commit, in the order they were accepted. */
  statuses: Map<string, RecordedStatus[]>;
  /** Requests that did not match GitHub's description (must stay empty). */
  invalid: string[];
  /** Every request: "METHOD operationId" and the answer's status. */
  requests: Array<{ operation: string; status: number }>;
  /** The next POSTs of a status get these answers, in order. */
  faults: Fault[];
  close(): Promise<void>;
}

const require = createRequire(import.meta.url);
let cached: { doc: OpenApi; routes: Array<{ re: RegExp; names: string[]; path: string }> } | undefined;

function spec() {
  if (cached) return cached;
  const doc = JSON.parse(readFileSync(require.resolve('@octokit/openapi/generated/api.github.com.json'), 'utf8')) as OpenApi;
  const routes = Object.keys(doc.paths).map((path) => {
    const names: string[] = [];
    const re = new RegExp('^' + path.replace(/[.*+?^${}()|[\]\\]/g, (c) => (c === '{' || c === '}' ? c : '\\' + c)).replace(/\{([^}]+)\}/g, (_, n: string) => (names.push(n), '([^/]+)')) + '$');
    return { re, names, path };
  });
  cached = { doc, routes };
  return cached;
}

// OpenAPI 3.0 schemas: `nullable`, `example`, `x-*` and formats; local $refs resolve against the document's components.
const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: false, coerceTypes: false });
const compiled = new Map<string, ValidateFunction>();
function validator(key: string, schema: object): ValidateFunction {
  let v = compiled.get(key);
  if (!v) compiled.set(key, (v = ajv.compile({ ...schema, components: spec().doc.components })));
  return v;
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...headers });
  res.end(JSON.stringify(body));
}

/** The operation a request addresses, or why it addresses none. */
function match(method: string, pathname: string): { op: Operation; params: Record<string, string>; path: string } | string {
  const { doc, routes } = spec();
  for (const r of routes) {
    const m = r.re.exec(pathname);
    if (!m) continue;
    const op = doc.paths[r.path][method.toLowerCase()];
    if (!op) return `${method} ${pathname}: ${r.path} has no ${method}`;
    return { op, params: Object.fromEntries(r.names.map((n, i) => [n, decodeURIComponent(m[i + 1])])), path: r.path };
  }
  return `${method} ${pathname}: no such path in GitHub's API`;
}

function problems(op: Operation, params: Record<string, string>, query: URLSearchParams, body: string, req: IncomingMessage): string[] {
  const out: string[] = [];
  if (!/^(token|bearer) \S+$/i.test(String(req.headers.authorization ?? ''))) out.push('no Authorization token');
  for (const p of op.parameters ?? []) {
    const raw = p.in === 'path' ? params[p.name] : p.in === 'query' ? query.get(p.name) ?? undefined : undefined;
    if (raw === undefined) {
      if (p.required && (p.in === 'path' || p.in === 'query')) out.push(`missing ${p.in} parameter ${p.name}`);
      continue;
    }
    const type = (p.schema as { type?: string }).type;
    const value = type === 'integer' || type === 'number' ? Number(raw) : type === 'boolean' ? raw === 'true' : raw;
    const v = validator(`${op.operationId}:${p.in}:${p.name}`, p.schema);
    if (!v(value)) out.push(`${p.in} parameter ${p.name}: ${ajv.errorsText(v.errors)}`);
  }
  const schema = op.requestBody?.content['application/json']?.schema;
  if (schema) {
    if (!String(req.headers['content-type'] ?? '').startsWith('application/json')) out.push(`content-type ${req.headers['content-type']}`);
    let data: unknown;
    try {
      data = JSON.parse(body);
    } catch {
      out.push('body is not JSON');
      return out;
    }
    const v = validator(`${op.operationId}:body`, schema);
    if (!v(data)) out.push(`body: ${ajv.errorsText(v.errors)}`);
  } else if (body.length) out.push('a body where the operation takes none');
  return out;
}

export async function startForgeApi(): Promise<ForgeApi> {
  spec();
  const api: Omit<ForgeApi, 'url' | 'close'> = { statuses: new Map(), invalid: [], requests: [], faults: [] };
  let id = 0;
  const server = createServer((req, res) => {
    void (async () => {
      const url = new URL(req.url ?? '/', 'http://forge.invalid');
      const body = await readBody(req);
      const m = match(req.method ?? 'GET', url.pathname);
      if (typeof m === 'string') {
        api.invalid.push(m);
        api.requests.push({ operation: m, status: 404 });
        return send(res, 404, { message: 'Not Found' });
      }
      const bad = problems(m.op, m.params, url.searchParams, body, req);
      if (bad.length) {
        api.invalid.push(`${m.op.operationId}: ${bad.join('; ')}`);
        api.requests.push({ operation: m.op.operationId, status: 422 });
        return send(res, 422, { message: `Validation Failed: ${bad.join('; ')}` });
      }
      if (m.op.operationId === 'repos/create-commit-status') {
        const fault = api.faults.shift();
        const record = () => {
          const s = JSON.parse(body) as RecordedStatus;
          const list = api.statuses.get(m.params.sha) ?? [];
          list.push({ context: s.context ?? 'default', state: s.state, description: s.description, target_url: s.target_url });
          api.statuses.set(m.params.sha, list);
          return s;
        };
        if (fault?.hang) {
          if (fault.hang === 'after-recording') record();
          api.requests.push({ operation: m.op.operationId, status: 0 });
          return; // never answered
        }
        if (fault) {
          api.requests.push({ operation: m.op.operationId, status: fault.status });
          return send(res, fault.status, { message: fault.message ?? `fault ${fault.status}` }, fault.headers);
        }
        const s = record();
        api.requests.push({ operation: m.op.operationId, status: 201 });
        return send(res, 201, { id: ++id, state: s.state, context: s.context, description: s.description ?? null, target_url: s.target_url ?? null });
      }
      if (m.op.operationId === 'repos/list-commit-statuses-for-ref') {
        api.requests.push({ operation: m.op.operationId, status: 200 });
        const list = [...(api.statuses.get(m.params.ref) ?? [])].reverse();
        return send(res, 200, list.map((s, i) => ({ id: i + 1, state: s.state, context: s.context, description: s.description ?? null, target_url: s.target_url ?? null })));
      }
      api.requests.push({ operation: m.op.operationId, status: 501 });
      return send(res, 501, { message: `${m.op.operationId} is valid but not served by this test forge` });
    })().catch((e) => send(res, 500, { message: String(e) }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    ...api,
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  } as ForgeApi;
}
