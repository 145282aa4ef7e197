// The CLI's exit codes, decided by an error's kind alone. `kiln --help` and the
// README's CLI reference are generated from EXIT_CODES, so they cannot drift.
import type { ErrorKind } from '../../schema/errors.ts';

export const EXIT = { ok: 0, problems: 1, usage: 2, transient: 3 } as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

const BY_KIND: Readonly<Record<ErrorKind, ExitCode>> = Object.freeze({
  terminal: EXIT.problems,
  usage: EXIT.usage,
  transient: EXIT.transient,
  waiting: EXIT.transient,
});

export function exitCodeFor(kind: ErrorKind): ExitCode {
  return BY_KIND[kind];
}

export const EXIT_CODES: readonly { code: ExitCode; short: string; meaning: string }[] = [
  { code: EXIT.ok, short: 'ok', meaning: 'done, nothing wrong' },
  {
    code: EXIT.problems,
    short: 'problems found',
    meaning: 'problems found that a human must fix: invalid metadata, a refused commit, failed builds (errors of kind terminal)',
  },
  {
    code: EXIT.usage,
    short: 'usage or environment error',
    meaning: 'bad usage or an unusable environment: an unknown option, a missing or unusable key, no permission (kind usage)',
  },
  {
    code: EXIT.transient,
    short: 'transient failure, worth retrying',
    meaning: 'a transient failure worth retrying: NATS unreachable, the lease held by another reconciler, a race; also an unexpected internal error (kinds transient, waiting)',
  },
];

/** One line for `kiln --help`. */
export function exitCodesLine(): string {
  return `Exit codes: ${EXIT_CODES.map((e) => `${e.code} ${e.short}`).join(', ')}.`;
}

/** A Markdown table for the README. */
export function exitCodesTable(): string {
  return ['| exit | meaning |', '| --- | --- |', ...EXIT_CODES.map((e) => `| \`${e.code}\` | ${e.meaning} |`)].join('\n');
}
