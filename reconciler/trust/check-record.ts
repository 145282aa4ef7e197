// The status-branch record of a trust decision (checks/<commit>.yaml). Pure.
import { formatDiagnostic, type Diagnostic } from '../../schema/errors.ts';
import type { CheckRecord } from '../../schema/status.ts';
import type { TrustVerdict } from './policy.ts';

export function checkRecordFor(verdict: TrustVerdict, now: Date): CheckRecord {
  const record: CheckRecord = {
    commit: verdict.commit,
    verdict: verdict.trusted ? 'trusted' : 'refused',
    reason: verdict.reason,
    at: now.toISOString(),
  };
  if (verdict.signer) record.signer = `${verdict.signer.userId} <${verdict.signer.fingerprint}>`;
  const refusedSteps = (verdict.chain ?? []).filter((s) => !s.trusted && s.commit !== verdict.commit);
  if (refusedSteps.length) record.diagnostics = refusedSteps.map((s) => `${s.commit}: ${s.reason}`);
  return record;
}

/**
 * A trusted commit whose metadata does not validate (a bad source ref, a schema error):
 * recorded once with every error at file:line:col, so a bad pin is on the status branch
 * with its reason instead of only in a log, and nothing of that commit is acted on.
 */
export function invalidCheckRecord(commit: string, diagnostics: Diagnostic[], now: Date): CheckRecord {
  const errors = diagnostics.filter((d) => d.severity === 'error');
  return {
    commit,
    verdict: 'invalid',
    reason: `${errors.length} problem${errors.length === 1 ? '' : 's'} in the metadata: nothing of this commit is built or published`,
    diagnostics: errors.map(formatDiagnostic),
    at: now.toISOString(),
  };
}
