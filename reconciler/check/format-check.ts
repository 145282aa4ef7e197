// The views of a check report: one summary line (CI logs, commit statuses),
// text for a terminal, and Markdown for a pull-request comment (GitHub,
// Gitea, Forgejo render the table and the collapsible <details> alike). Pure.
import { formatDiagnostic } from '../../schema/errors.ts';
import type { Action } from '../model.ts';
import type { CheckReport } from './check-revision.ts';

const short = (oid: string) => oid.slice(0, 12);
const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

function counts(actions: Action[]): string {
  const c = new Map<string, number>();
  for (const a of actions) c.set(a.kind, (c.get(a.kind) ?? 0) + 1);
  const words: Record<string, string> = { build: 'to build', publish: 'to publish', prune: 'to prune', gate: 'to gate', refuse: 'refused' };
  return [...c].map(([k, n]) => `${n} ${words[k]}`).join(', ');
}

/** One line: what a status check or a CI log shows. */
export function checkSummary(r: CheckReport): string {
  if (!r.trust.trusted) return `refused: ${r.trust.reason}`;
  if (r.validation && !r.validation.ok) return `invalid: ${plural(r.validation.diagnostics.filter((d) => d.severity === 'error').length, 'problem')} in the metadata`;
  return `trusted and valid: ${counts(r.diff.added) || 'no change to builds or releases'}`;
}

/** Where an action applies and what it names, for both views. */
function describe(a: Action): { what: string; pkg: string; version: string; where: string } {
  switch (a.kind) {
    case 'build':
      return { what: 'build', pkg: a.package, version: a.version, where: a.arch };
    case 'refuse':
      return { what: 'refuse', pkg: '', version: '', where: `commit ${short(a.commit)}` };
    case 'gate':
      return { what: 'gate', pkg: a.package, version: a.version, where: `${a.from} → ${a.distribution}` };
    case 'republish':
      return { what: 'republish', pkg: '', version: '', where: a.distribution };
    default:
      return { what: a.kind, pkg: a.package, version: a.version, where: a.distribution };
  }
}

function trustLine(r: CheckReport): string {
  const s = r.trust.signer;
  const who = s && !r.trust.reason.includes(s.fingerprint) ? `, signed by ${s.userId} (${s.fingerprint})` : '';
  return `${r.trust.trusted ? 'trusted' : 'REFUSED'}${who}: ${r.trust.reason}`;
}

export function formatCheckText(r: CheckReport, baseName: string): string {
  const lines = [`kiln check: ${short(r.rev)} into ${baseName} (${short(r.base)}): ${r.ok ? 'PASS' : 'FAIL'}`, `Trust: ${trustLine(r)}`];
  if (r.validation) {
    lines.push(r.validation.ok ? `Validation: ok (${plural(r.validation.packages, 'package')}, ${plural(r.validation.distributions, 'distribution')})` : 'Validation: problems');
    for (const d of r.validation.diagnostics) lines.push(`  ${formatDiagnostic(d)}`);
  } else lines.push('Validation: not run (the files of a refused commit are never parsed)');
  for (const d of r.baseProblems) lines.push(`  (base) ${formatDiagnostic(d)}`);
  lines.push('', `Plan difference against ${baseName}:`);
  if (!r.diff.added.length && !r.diff.dropped.length) lines.push('  no change to builds, releases or prunes');
  for (const a of r.diff.added) {
    const d = describe(a);
    lines.push(`  + ${d.what} ${[d.pkg, d.version, d.where].filter(Boolean).join(' ')}`, `      ${a.reason}: ${a.message}`);
  }
  for (const a of r.diff.dropped) {
    const d = describe(a);
    lines.push(`  - no longer ${d.what} ${[d.pkg, d.version, d.where].filter(Boolean).join(' ')}`, `      (the base plans it: ${a.reason})`);
  }
  for (const w of r.diff.waiting) lines.push(`  … ${w.subject}`, `      ${w.reason}: ${w.message}`);
  lines.push('', checkSummary(r));
  return lines.join('\n');
}

/** Table cells and inline text: no pipes, angle brackets or backticks that would break the layout. */
const md = (s: string) => s.replace(/[|<>`]/g, (c) => ({ '|': '\\|', '<': '&lt;', '>': '&gt;', '`': "'" })[c]!).replace(/\n/g, ' ');

const ICON: Record<Action['kind'], string> = { build: '🔨', publish: '📦', prune: '🗑️', republish: '📦', gate: '🚦', refuse: '⛔' };

export function formatCheckMarkdown(r: CheckReport, baseName: string): string {
  const out = [`### ${r.ok ? '✅' : '❌'} Kiln check ${r.ok ? 'passed' : 'failed'}: ${md(checkSummary(r))}`, ''];
  out.push(`Merging \`${short(r.rev)}\` into \`${md(baseName)}\` (\`${short(r.base)}\`).`, '');
  out.push(`**Trust:** ${r.trust.trusted ? '✅' : '❌'} ${md(trustLine(r))}`, '');
  if (r.validation && !r.validation.ok) {
    out.push('**Validation problems:**', '');
    for (const d of r.validation.diagnostics) out.push(`- \`${md([d.file, d.line, d.col].filter((x) => x !== undefined).join(':'))}\` ${md(d.message)}`);
    out.push('');
  }
  const rows = [...r.diff.added.map((a) => ({ a, sign: '' })), ...r.diff.dropped.map((a) => ({ a, sign: 'no longer ' }))];
  if (rows.length) {
    out.push('| | action | package | version | where | reason |', '| --- | --- | --- | --- | --- | --- |');
    for (const { a, sign } of rows) {
      const d = describe(a);
      out.push(`| ${ICON[a.kind]} | ${sign}${d.what} | ${md(d.pkg)} | ${md(d.version)} | ${md(d.where)} | ${md(a.reason)} |`);
    }
  } else if (r.trust.trusted && r.validation?.ok) out.push('_No change to what is built, released or pruned._');
  out.push('', `<details><summary>Details (${plural(rows.length, 'change')}${r.diff.waiting.length ? `, ${r.diff.waiting.length} waiting` : ''})</summary>`, '', '```text');
  out.push(formatCheckText(r, baseName).replace(/```/g, "'''"));
  out.push('```', '', '</details>');
  return out.join('\n');
}
