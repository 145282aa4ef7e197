// A step of the pass that failed after results were collected. The pass still
// records what it observed and did (a deferred record), names the step on the
// status branch, then rethrows the cause so the watch loop retries by its kind.
import type { PassStepName } from '../../schema/status.ts';

export class PassStepFailure {
  constructor(
    readonly step: PassStepName,
    readonly cause: unknown,
  ) {}
  get message(): string {
    return this.cause instanceof Error ? this.cause.message : String(this.cause);
  }
}

/** Run one step; a throw becomes a PassStepFailure naming it. */
export async function attemptStep(step: PassStepName, fn: () => Promise<void>): Promise<void> {
  try {
    await fn();
  } catch (cause) {
    throw new PassStepFailure(step, cause);
  }
}
