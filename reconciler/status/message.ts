// Status commit messages: a one-line summary, a blank line, then git trailers
// (`Kiln-Desired: <oid>` first) that `git log --format=%(trailers)` can read.
import { TRAILERS } from '../../schema/status.ts';

export type Trailers = Record<string, string | number>;

const TRAILER_KEY = /^[A-Za-z0-9][A-Za-z0-9-]*$/;

/** Why a summary or trailer cannot go into a commit message, or undefined when it can. */
export function messageProblem(summary: string, trailers: Trailers): string | undefined {
  if (!summary.trim()) return 'the summary is empty';
  if (/[\r\n]/.test(summary)) return 'the summary must be one line';
  for (const [k, v] of Object.entries(trailers)) {
    if (!TRAILER_KEY.test(k)) return `trailer key '${k}' must be letters, digits and dashes`;
    const s = String(v);
    if (!s.trim() || /[\r\n]/.test(s)) return `trailer ${k} must be a non-empty single line`;
  }
  return undefined;
}

/** summary + blank line + trailers, Kiln-Desired first, the rest in the order given. */
export function formatMessage(summary: string, trailers: Trailers): string {
  const keys = Object.keys(trailers);
  const ordered = keys.includes(TRAILERS.desired) ? [TRAILERS.desired, ...keys.filter((k) => k !== TRAILERS.desired)] : keys;
  const lines = ordered.map((k) => `${k}: ${String(trailers[k]).trim()}`);
  return `${summary.trim()}\n` + (lines.length ? `\n${lines.join('\n')}\n` : '');
}

/** The trailers of a commit message: the `Key: value` lines of its last paragraph. */
export function parseTrailers(message: string): Record<string, string> {
  const paragraphs = message.replace(/\r\n/g, '\n').trim().split(/\n\s*\n/);
  if (paragraphs.length < 2) return {};
  const lines = paragraphs[paragraphs.length - 1].split('\n');
  const out: Record<string, string> = {};
  for (const line of lines) {
    const m = /^([A-Za-z0-9][A-Za-z0-9-]*):\s*(.*)$/.exec(line);
    if (!m) return {}; // not a trailer block (git requires every line to be a trailer, near enough)
    out[m[1]] = m[2].trim();
  }
  return out;
}
