// The README's API and metrics reference, generated from the API's schemas
// (schema/api.ts ENDPOINTS) and the reconciler's metric definitions, so the
// docs cannot drift from what the server validates and exports.
import { createRegistry } from '../../observability/metrics-registry.ts';
import { API_PREFIX, ENDPOINTS, type Endpoint } from '../../schema/api.ts';
import { createReconcilerMetrics } from '../metrics/reconciler-metrics.ts';

export const API_MARKERS = ['<!-- api-reference:start -->', '<!-- api-reference:end -->'] as const;
export const METRICS_MARKERS = ['<!-- metrics-reference:start -->', '<!-- metrics-reference:end -->'] as const;

interface JsonSchema {
  type?: string | string[];
  enum?: readonly unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: readonly string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  additionalProperties?: boolean | JsonSchema;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  default?: unknown;
  description?: string;
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** A short type: string, integer 1–1000, enum a|b, array of object, … */
export function typeOf(s: JsonSchema): string {
  if (s.enum) return s.enum.map(String).join(' \\| ');
  if (s.const !== undefined) return JSON.stringify(s.const);
  if (s.anyOf) return s.anyOf.map(typeOf).join(' or ');
  const t = Array.isArray(s.type) ? s.type.join(' or ') : (s.type ?? (s.properties ? 'object' : 'any'));
  if (t === 'array' && s.items) return `array of ${typeOf(s.items)}`;
  if (t === 'object' && !s.properties && typeof s.additionalProperties === 'object') return `map of ${typeOf(s.additionalProperties)}`;
  const range = s.minimum !== undefined && s.maximum !== undefined ? ` ${s.minimum}–${s.maximum}` : s.minimum !== undefined ? ` ≥ ${s.minimum}` : s.maximum !== undefined ? ` ≤ ${s.maximum}` : '';
  return t + range;
}

function paramTable(title: string, schema: JsonSchema | undefined): string[] {
  const props = Object.entries(schema?.properties ?? {});
  if (props.length === 0) return [];
  return [
    `${title}:`,
    '',
    '| name | type | description |',
    '| --- | --- | --- |',
    ...props.map(([n, p]) => `| \`${n}\`${schema?.required?.includes(n) ? '' : ' (optional)'} | ${typeOf(p)} | ${cell(p.description ?? (p.pattern ? `matches \`${p.pattern}\`` : ''))} |`),
    '',
  ];
}

/** Top-level fields of a response, and the fields of its list items (one level down). */
function responseFields(schema: JsonSchema): string[] {
  const lines: string[] = [];
  const walk = (s: JsonSchema, prefix: string, depth: number) => {
    for (const [n, p] of Object.entries(s.properties ?? {})) {
      lines.push(`| \`${prefix}${n}\` | ${typeOf(p)} | ${cell(p.description ?? '')} |`);
      const inner = p.type === 'array' ? p.items : p.anyOf?.find((x) => x.properties) ?? (p.properties ? p : undefined);
      if (inner?.properties && depth < 1) walk(inner, `${prefix}${n}${p.type === 'array' ? '[]' : ''}.`, depth + 1);
    }
  };
  walk(schema, '', 0);
  return lines.length ? ['Response fields:', '', '| field | type | description |', '| --- | --- | --- |', ...lines, ''] : [];
}

function endpointSection(e: Endpoint): string {
  const who = e.role === 'viewer' ? 'Public read; with `--private`, role viewer' : `Needs a bearer token with role ${e.role} or above`;
  return [
    `### \`${e.method} ${API_PREFIX}${e.url}\``,
    '',
    `${e.summary} ${who}.${e.produces ? ` Answers \`${e.produces}\`.` : ''}`,
    '',
    ...paramTable('Path parameters', e.params as JsonSchema | undefined),
    ...paramTable('Query parameters', e.querystring as JsonSchema | undefined),
    ...(e.response ? responseFields(e.response as JsonSchema) : []),
  ].join('\n');
}

export function apiReference(): string {
  const sections = Object.values(ENDPOINTS).map((e) => endpointSection(e as Endpoint));
  return [API_MARKERS[0], '', ...sections.flatMap((s) => [s.trimEnd(), '']), API_MARKERS[1]].join('\n');
}

export async function metricsReference(): Promise<string> {
  const registry = createRegistry({ processMetrics: false });
  createReconcilerMetrics(registry);
  const rows = (await registry.getMetricsAsJSON())
    .map((m) => {
      const labels = new Set<string>();
      for (const v of (m as { values?: Array<{ labels?: Record<string, unknown> }> }).values ?? []) for (const l of Object.keys(v.labels ?? {})) if (l !== 'le') labels.add(l);
      const declared = (registry.getSingleMetric(m.name) as unknown as { labelNames?: string[] }).labelNames ?? [...labels];
      return `| \`${m.name}\` | ${m.type} | ${declared.map((l) => `\`${l}\``).join(', ')} | ${cell(m.help)} |`;
    })
    .sort();
  return [METRICS_MARKERS[0], '', '| metric | type | labels | what |', '| --- | --- | --- | --- |', ...rows, '', METRICS_MARKERS[1]].join('\n');
}

/** `text` with the section between `markers` replaced by `section` (which carries the markers). */
export function withSection(text: string, markers: readonly [string, string], section: string): string {
  const start = text.indexOf(markers[0]);
  const end = text.indexOf(markers[1]);
  if (start < 0 || end < start) throw new Error(`README.md has no ${markers[0]} … ${markers[1]} section`);
  return text.slice(0, start) + section + text.slice(end + markers[1].length);
}

export async function withApiReference(readme: string): Promise<string> {
  return withSection(withSection(readme, API_MARKERS, apiReference()), METRICS_MARKERS, await metricsReference());
}
