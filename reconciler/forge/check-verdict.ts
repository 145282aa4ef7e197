// The verdict behind `kiln/check` on a pull-request head. The webhook handler
// takes any CheckRunner; until `kiln check` (plan preview) is wired in, the
// default one says what the reconciler itself would say about the commit:
// trusted (trust policy from the last reconciled commit) and valid (YAML,
// schemas, cross-file rules).
import { formatDiagnostic } from '../../schema/errors.ts';
import { validateDesired } from '../desired/validate-desired.ts';
import { resolveCommit, type GitCache } from '../git/tree.ts';
import { readObserved } from '../status/reader.ts';
import { verifyDesiredCommit } from '../trust/index.ts';

export interface CheckVerdict {
  ok: boolean;
  /** One line for the status description. */
  summary: string;
}

export type CheckRunner = (rev: string) => Promise<CheckVerdict>;

export function trustAndValidationCheck(dir: string): CheckRunner {
  return async (rev) => {
    const cache: GitCache = {};
    try {
      await resolveCommit(dir, rev, cache);
    } catch {
      return { ok: false, summary: `commit ${rev.slice(0, 12)} is not in the reconciler's repository (not fetched yet?)` };
    }
    const { state } = await readObserved({ dir, cache });
    const trust = await verifyDesiredCommit({ dir, cache, commit: rev, lastTrusted: state.desiredCommit });
    if (!trust.trusted) return { ok: false, summary: `untrusted: ${trust.reason}` };
    const v = await validateDesired({ dir, rev, cache });
    const errors = v.diagnostics.filter((d) => d.severity === 'error');
    if (!v.ok || errors.length) {
      const first = errors[0] ? formatDiagnostic(errors[0]) : 'invalid';
      return { ok: false, summary: `${errors.length} problem${errors.length === 1 ? '' : 's'}: ${first}` };
    }
    return { ok: true, summary: `trusted and valid: ${v.packages} package(s), ${v.distributions} distribution(s)` };
  };
}
