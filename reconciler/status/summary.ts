// What `kiln status` shows: a summary of the observed state (pure), and its
// compact human view in the spirit of `git status`.
import type { BuildRecord, ConditionRecord } from '../../schema/status.ts';
import type { ObservedState } from '../model.ts';
import { formatProblem, type RecordProblem } from './parse-record.ts';

export interface HeadInfo {
  commit: string;
  summary: string;
  /** ISO time of the commit. */
  date: string;
  signed: boolean;
}

export interface BuildLine {
  key: string;
  package: string;
  version: string;
  arch: string;
  state: BuildRecord['state'];
  attempts: number;
  failureClass?: string;
  reason?: string;
  retryAt?: string;
}

export interface StatusSummary {
  branch: string;
  head: HeadInfo | null;
  desiredCommit: string | null;
  /** The reconciler's Ready condition: did the last pass complete every step, and if not, which failed. */
  ready: ConditionRecord | null;
  builds: { total: number; byState: Record<BuildRecord['state'], number>; queued: BuildLine[]; failed: BuildLine[] };
  releases: { distribution: string; desiredCommit: string; publishedAt?: string; packages: { name: string; version: string }[]; rejected?: { name: string; version: string; reason: string }[] }[];
  gates: { distribution: string; from: string; package: string; version: string; verdict: string; reason?: string }[];
  checks: { commit: string; verdict: string; signer?: string; reason?: string; at: string }[];
  problems: RecordProblem[];
}

function line(r: BuildRecord): BuildLine {
  return {
    key: r.key,
    package: r.inputs.package,
    version: r.inputs.version,
    arch: r.inputs.arch,
    state: r.state,
    attempts: r.attempts.length,
    ...(r.failure ? { failureClass: r.failure.class, reason: r.failure.reason } : {}),
    ...(r.retryAt ? { retryAt: r.retryAt } : {}),
  };
}

const byName = (a: BuildLine, b: BuildLine) =>
  a.package.localeCompare(b.package) || a.version.localeCompare(b.version) || a.arch.localeCompare(b.arch);

export function summarize(branch: string, head: HeadInfo | null, state: ObservedState, problems: RecordProblem[]): StatusSummary {
  const byState = { queued: 0, succeeded: 0, failed: 0 };
  const queued: BuildLine[] = [];
  const failed: BuildLine[] = [];
  for (const r of state.builds.values()) {
    byState[r.state]++;
    if (r.state === 'queued') queued.push(line(r));
    if (r.state === 'failed') failed.push(line(r));
  }
  return {
    branch,
    head,
    desiredCommit: state.desiredCommit ?? null,
    ready: state.conditions.get('Ready') ?? null,
    builds: { total: state.builds.size, byState, queued: queued.sort(byName), failed: failed.sort(byName) },
    releases: [...state.releases.values()]
      .map((r) => ({
        distribution: r.distribution,
        desiredCommit: r.desiredCommit,
        ...(r.publishedAt ? { publishedAt: r.publishedAt } : {}),
        packages: r.packages.map((p) => ({ name: p.name, version: p.version })).sort((a, b) => a.name.localeCompare(b.name)),
        ...(r.rejected?.length ? { rejected: r.rejected.map((x) => ({ name: x.name, version: x.version, reason: x.reason })) } : {}),
      }))
      .sort((a, b) => a.distribution.localeCompare(b.distribution)),
    gates: [...state.gates.values()]
      .map((g) => ({ distribution: g.distribution, from: g.from, package: g.package, version: g.version, verdict: g.verdict, ...(g.reason ? { reason: g.reason } : {}) }))
      .sort((a, b) => `${a.distribution}/${a.package}/${a.version}`.localeCompare(`${b.distribution}/${b.package}/${b.version}`)),
    checks: [...state.checks.values()]
      .map((c) => ({ commit: c.commit, verdict: c.verdict, at: c.at, ...(c.signer ? { signer: c.signer } : {}), ...(c.reason ? { reason: c.reason } : {}) }))
      .sort((a, b) => b.at.localeCompare(a.at)),
    problems,
  };
}

const short = (oid: string) => oid.slice(0, 12);
const MAX_LINES = 20;

function limited<T>(items: T[], fmt: (t: T) => string): string[] {
  const out = items.slice(0, MAX_LINES).map(fmt);
  if (items.length > MAX_LINES) out.push(`  … and ${items.length - MAX_LINES} more (--json lists all)`);
  return out;
}

export function formatStatus(s: StatusSummary): string {
  if (!s.head) return `No status branch (${s.branch}) yet: nothing has been reconciled.`;
  const out = [
    `On ${s.branch} at ${short(s.head.commit)} (${s.head.date}${s.head.signed ? ', signed' : ', UNSIGNED'}): ${s.head.summary}`,
    `Reconciled desired commit: ${s.desiredCommit ? short(s.desiredCommit) : '(none recorded)'}`,
    ...(s.ready ? [`Ready: ${s.ready.status === 'True' ? 'yes' : `NO — ${s.ready.reason} since ${s.ready.since}: ${s.ready.message}`}`] : []),
    '',
    `Builds: ${s.builds.total} (${s.builds.byState.queued} queued, ${s.builds.byState.succeeded} succeeded, ${s.builds.byState.failed} failed)`,
    ...limited(s.builds.failed, (b) =>
      `  failed  ${b.package} ${b.version} ${b.arch}  ${b.failureClass ?? '?'}: ${b.reason ?? 'no reason recorded'}` +
      `${b.retryAt ? ` (retry at ${b.retryAt})` : ''}  [${b.key.slice(0, 12)}, ${b.attempts} attempt${b.attempts === 1 ? '' : 's'}]`,
    ),
    ...limited(s.builds.queued, (b) => `  queued  ${b.package} ${b.version} ${b.arch}  [${b.key.slice(0, 12)}, attempt ${b.attempts}]`),
  ];
  out.push('', s.releases.length ? 'Releases:' : 'Releases: none');
  for (const r of s.releases) {
    const pkgs = r.packages.map((p) => `${p.name} ${p.version}`).join(', ');
    out.push(`  ${r.distribution}  ${r.packages.length} package${r.packages.length === 1 ? '' : 's'} from ${short(r.desiredCommit)}${pkgs ? `: ${pkgs}` : ''}`);
    for (const x of r.rejected ?? []) out.push(`    not published: ${x.name} ${x.version}: ${x.reason}`);
  }
  if (s.gates.length) {
    out.push('', 'Gates:');
    out.push(...limited(s.gates, (g) => `  ${g.verdict.padEnd(6)}  ${g.from} -> ${g.distribution}  ${g.package} ${g.version}${g.reason ? `: ${g.reason}` : ''}`));
  }
  if (s.checks.length) {
    out.push('', 'Checks:');
    out.push(...limited(s.checks, (c) => `  ${c.verdict.padEnd(8)}  ${short(c.commit)}${c.signer ? `  by ${c.signer}` : ''}${c.reason ? `: ${c.reason}` : ''}`));
  }
  if (s.problems.length) {
    out.push('', `Unreadable status records (skipped): ${s.problems.length}`);
    out.push(...limited(s.problems, (p) => `  ${formatProblem(p)}`));
  }
  return out.join('\n');
}
