// The status-branch record of a trust decision (checks/<commit>.yaml). Pure.
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
