// Plan action kinds and their reasons: constants, so the CLI, the status
// branch and tests speak one vocabulary.

export const ACTION_KINDS = ['build', 'publish', 'prune', 'republish', 'gate', 'refuse'] as const;
export type ActionKind = (typeof ACTION_KINDS)[number];

export const REASONS = {
  buildNew: 'NeverBuilt',
  buildRetry: 'RetryAfterInfraFailure',
  buildRequeue: 'DispatchLost',
  publishNew: 'NotPublished',
  publishUpgrade: 'NewerVersionDesired',
  publishRebuilt: 'SameVersionRebuilt',
  publishDrift: 'RepositoryDrift',
  pruneRemoved: 'RemovedFromDesiredState',
  pruneOld: 'BeyondKeepPolicy',
  gateNeeded: 'PromotionGatePending',
  refuseUntrusted: 'UntrustedCommit',
  refuseInvalid: 'InvalidMetadata',
} as const;
export type Reason = (typeof REASONS)[keyof typeof REASONS];

/** Why something desired is not acted on in this pass (shown by `kiln plan`). */
export const WAIT_REASONS = {
  building: 'Building',
  failed: 'BuildFailed',
  retryBackoff: 'RetryBackoff',
  awaitingBuild: 'AwaitingBuild',
  awaitingSource: 'AwaitingSourceDistribution',
  gateFailed: 'GateFailed',
  gaveUp: 'GaveUp',
  refused: 'Refused',
  invalid: 'InvalidMetadata',
  // Package sets: in-repo Build-Depends (reconciler/plan/dependency-graph.ts).
  awaitingDependency: 'AwaitingDependency',
  dependencyFailed: 'DependencyFailed',
  dependencyCycle: 'DependencyCycle',
  duplicateBinary: 'DuplicateBinary',
  badBuildDepends: 'BadBuildDepends',
  // Publishing (reconciler/pass/publish-step.ts).
  publishRejected: 'PublishRejected',
} as const;
