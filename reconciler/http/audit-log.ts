// The audit trail: kiln/status commits, newest first (first parent), with their
// trailers, read with native git (fast, and exactly what `git log` shows).
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { AuditEntry } from '../../schema/api.ts';
import { STATUS_REF } from '../../schema/status.ts';
import { BadParameterError } from './build-summary.ts';

const run = promisify(execFile);
const FIELD = '\x1f';
const RECORD = '\x1e';

async function git(gitdir: string, args: string[]): Promise<string> {
  const { stdout } = await run('git', [`--git-dir=${gitdir}`, ...args], { maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** Pure: one `git log` record (see FORMAT) as an entry. */
export function parseEntry(text: string): AuditEntry {
  const [commit, subject, date, author, body, trailerText] = text.replace(/^\n+/, '').split(FIELD);
  const trailers: Record<string, string[]> = {};
  for (const line of (trailerText ?? '').split('\n')) {
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*):\s*(.*)$/.exec(line);
    if (m) (trailers[m[1]] ??= []).push(m[2].trim());
  }
  const entry: AuditEntry = { commit, subject, date, author, trailers };
  // %b ends with the trailer block; the body field keeps only what is said besides it.
  const said = (body ?? '').trim();
  const trailerBlock = (trailerText ?? '').trim();
  const rest = trailerBlock && said.endsWith(trailerBlock) ? said.slice(0, -trailerBlock.length).trim() : said;
  if (rest) entry.body = rest;
  return entry;
}

const FORMAT = ['%H', '%s', '%aI', '%an <%ae>', '%b', '%(trailers:only,unfold)'].join(FIELD) + RECORD;

export async function readAudit(gitdir: string, opts: { limit: number; cursor?: string }): Promise<{ commits: AuditEntry[]; nextCursor: string | null }> {
  let start = STATUS_REF;
  if (opts.cursor !== undefined) {
    // A commit id, never a revision expression or an option; and one of kiln/status's.
    const ok = /^[0-9a-f]{40}$/.test(opts.cursor) && (await git(gitdir, ['merge-base', '--is-ancestor', opts.cursor, STATUS_REF]).then(() => true, () => false));
    if (!ok) throw new BadParameterError('cursor', `cursor '${opts.cursor}' is not a commit of kiln/status`);
    start = opts.cursor;
  }
  const exists = await git(gitdir, ['rev-parse', '--verify', '--quiet', `${STATUS_REF}^{commit}`]).then(() => true, () => false);
  if (!exists) return { commits: [], nextCursor: null };
  const out = await git(gitdir, ['log', '--first-parent', `-n${opts.limit + 1}`, `--format=${FORMAT}`, start, '--']);
  const entries = out.split(RECORD).filter((r) => r.trim()).map(parseEntry);
  const next = entries.length > opts.limit ? entries[opts.limit].commit : null;
  return { commits: entries.slice(0, opts.limit), nextCursor: next };
}
