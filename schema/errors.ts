// Typed errors shared by the reconciler, agents and the CLI. Errors cross NATS,
// so compare `code`, not `instanceof`, across processes (see toJSON()).

export interface SourcePosition {
  file: string;
  line?: number;
  col?: number;
}

export type ErrorKind =
  /** Needs a human: bad input. Never retried. */
  | 'stalled'
  /** Transient: retry after a delay. */
  | 'transient';

export abstract class KilnError extends Error {
  abstract readonly code: string;
  readonly kind: ErrorKind = 'transient';
  readonly data: Record<string, unknown>;

  constructor(message: string, data: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.data = data;
  }

  toJSON(): { name: string; code: string; kind: ErrorKind; message: string; data: Record<string, unknown> } {
    return { name: this.name, code: this.code, kind: this.kind, message: this.message, data: this.data };
  }
}

/** One problem found in the metadata repo, with its place. */
export interface Diagnostic extends SourcePosition {
  message: string;
  /** JSON pointer of the offending value, when known. */
  path?: string;
  severity: 'error' | 'warning';
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = [d.file, d.line, d.col].filter((x) => x !== undefined).join(':');
  return `${where}: ${d.severity === 'warning' ? 'warning: ' : ''}${d.message}`;
}

/** The desired state is invalid: every problem, each with file:line:col. */
export class InvalidMetadataError extends KilnError {
  readonly code = 'KILN_INVALID_METADATA';
  override readonly kind = 'stalled';
  readonly diagnostics: Diagnostic[];
  constructor(diagnostics: Diagnostic[], rev?: string) {
    const errors = diagnostics.filter((d) => d.severity === 'error');
    super(
      `${errors.length} problem${errors.length === 1 ? '' : 's'} in the metadata repo${rev ? ` at ${rev.slice(0, 12)}` : ''}:\n` +
        errors.map((d) => '  ' + formatDiagnostic(d)).join('\n'),
      { diagnostics, rev },
    );
    this.diagnostics = diagnostics;
  }
}

/** Bad command-line usage or an unusable environment (exit code 2). */
export class UsageError extends KilnError {
  readonly code = 'KILN_USAGE';
  override readonly kind = 'stalled';
}

export class NotFoundError extends KilnError {
  readonly code = 'KILN_NOT_FOUND';
  override readonly kind = 'stalled';
}

/** A git ref or source could not be resolved. */
export class SourceResolveError extends KilnError {
  readonly code = 'KILN_SOURCE_RESOLVE';
}

/** The status branch moved while we wrote; the caller re-reads, merges and retries. */
export class StatusConflictError extends KilnError {
  readonly code = 'KILN_STATUS_CONFLICT';
}

export class SigningError extends KilnError {
  readonly code = 'KILN_SIGNING';
  override readonly kind = 'stalled';
}

/** An artifact's bytes do not match the digest that was claimed for them. */
export class DigestMismatchError extends KilnError {
  readonly code = 'KILN_DIGEST_MISMATCH';
}

/** A build failed because of its recipe: retrying will not help. */
export class BuildFailedError extends KilnError {
  readonly code = 'KILN_BUILD_FAILED';
  override readonly kind = 'stalled';
}

/** A desired-state commit is not signed by a trusted key. */
export class UntrustedCommitError extends KilnError {
  readonly code = 'KILN_UNTRUSTED_COMMIT';
  override readonly kind = 'stalled';
}

export class PublishError extends KilnError {
  readonly code = 'KILN_PUBLISH';
}

export function isKilnError(e: unknown): e is KilnError {
  return e instanceof KilnError;
}

/** A .deb file that cannot be read (bad ar archive, no control member, bad control paragraph). */
export class DebFormatError extends KilnError {
  readonly code = 'KILN_DEB_FORMAT';
  override readonly kind = 'stalled';
}

/** publishApt was asked for something it must refuse (hostile name, unknown component, a pool file changing bytes). */
export class PublishInputError extends KilnError {
  readonly code = 'KILN_PUBLISH_INPUT';
  override readonly kind = 'stalled';
}

/** What a status pass asked to write is unusable (bad path, invalid record, bad trailer): a bug, not a race. */
export class InvalidStatusChangeError extends KilnError {
  readonly code = 'KILN_INVALID_STATUS_CHANGE';
  override readonly kind = 'stalled';
}

/** A ref's lock file is held (another writer, or one that was killed while holding it). */
export class RefLockedError extends KilnError {
  readonly code = 'KILN_REF_LOCKED';
}

/** debian/control's Build-Depends cannot be read, or apt cannot satisfy them. */
export class BuildDepsError extends KilnError {
  readonly code = 'KILN_BUILD_DEPS';
  override readonly kind = 'stalled';
}

/** A build agent could not do its part (Docker, source fetch, object store): not the recipe's fault. */
export class AgentInfraError extends KilnError {
  readonly code = 'KILN_AGENT_INFRA';
}

/** Another reconciler holds the lease; passes must not overlap. */
export class LeaseHeldError extends KilnError {
  readonly code = 'KILN_LEASE_HELD';
  constructor(holder?: string, until?: string) {
    super(`another reconciler${holder ? ` (${holder})` : ''} holds the lease${until ? ` until ${until}` : ''}; try again later`, { holder, until });
  }
}

/** The lease ran out (or another reconciler took it) while a pass was acting: the pass stops. */
export class LeaseLostError extends KilnError {
  readonly code = 'KILN_LEASE_LOST';
  constructor(holder?: string) {
    super(`lost the reconciler lease${holder ? ` to ${holder}` : ''} during a pass: stopping before the next step`, { holder });
  }
}

/** A promotion gate could not run (Docker, image, mounts): says nothing about the package; retry later. */
export class GateInfraError extends KilnError {
  readonly code = 'KILN_GATE_INFRA';
}

/** The NATS server could not be reached. */
export class NatsConnectError extends KilnError {
  readonly code = 'KILN_NATS_CONNECT';
}

/** The status branch holds a commit the reconciler did not sign: its records cannot be believed. */
export class UntrustedStatusError extends KilnError {
  readonly code = 'KILN_UNTRUSTED_STATUS';
  override readonly kind = 'stalled';
}

/** An artifact is not in the object store (never uploaded, or lost). Not a stall: other work goes on. */
export class ArtifactMissingError extends KilnError {
  readonly code = 'KILN_ARTIFACT_MISSING';
}
