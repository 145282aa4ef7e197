// `kiln validate` and `kiln check`: the verdict on a metadata commit as data,
// never an exception for bad metadata.
import type { Diagnostic } from '../../schema/errors.ts';
import { evaluateDesired, type ReadDesiredOptions } from './read-desired.ts';

export interface ValidationReport {
  ok: boolean;
  commit: string;
  packages: number;
  distributions: number;
  /** Errors and warnings, sorted by file, line, column. */
  diagnostics: Diagnostic[];
}

export async function validateDesired(opts: Omit<ReadDesiredOptions, 'cache'> & { cache?: object }): Promise<ValidationReport> {
  const ev = await evaluateDesired({ ...opts, cache: opts.cache ?? {} });
  return {
    ok: ev.state !== undefined,
    commit: ev.commit,
    packages: ev.state?.packages.size ?? 0,
    distributions: ev.state?.distributions.size ?? 0,
    diagnostics: ev.diagnostics,
  };
}
