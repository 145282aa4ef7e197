// Public surface of the trust policy: what the reconcile pass and the CLI call.
export { verifyDesiredCommit, acceptTrustRoot, type VerifyDesiredOptions } from './verify-desired-commit.ts';
export { checkRecordFor, invalidCheckRecord } from './check-record.ts';
export { signArtifacts, type ArtifactToSign } from './artifact-signatures.ts';
export { TRUST_ROOT_REF, readTrustRoot } from './trust-root.ts';
export type { TrustVerdict, StepVerdict, Anchor, Signer as CommitSigner } from './policy.ts';
export { assertStatusSigned, readObservedForTrust } from './status-signature.ts';
