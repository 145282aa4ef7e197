// Typed errors shared by the reconciler, agents and the CLI. Errors cross NATS,
// so compare `code`, not `instanceof`, across processes (see toJSON() and
// errorFromJSON()). What happens after an error is decided by its kind alone:
// retryPolicy() (schema/retry.ts) and the CLI's exit code (reconciler/cli/exit-code.ts).
import { printable } from './quote.ts';

export interface SourcePosition {
  file: string;
  line?: number;
  col?: number;
}

export const ERROR_KINDS = [
  /** Needs a human: bad input (metadata, a hostile source tree, an untrusted commit). Never retried. */
  'terminal',
  /** Worth another try: network, broker, Docker, a race. Retried with backoff. */
  'transient',
  /** Something expected has not happened yet (a consumer not created, a lease held). Polled again, not a failure. */
  'waiting',
  /** Bad command-line usage or an unusable environment (missing key, no permission). Never retried. */
  'usage',
] as const;
export type ErrorKind = (typeof ERROR_KINDS)[number];

export function isErrorKind(v: unknown): v is ErrorKind {
  return (ERROR_KINDS as readonly unknown[]).includes(v);
}

export interface KilnErrorOptions {
  cause?: unknown;
  /** Decided where the error is thrown; each class has a default (static defaultKind). */
  kind?: ErrorKind;
}

/** An error as it travels (NATS messages, --json output). */
export interface KilnErrorJSON {
  name: string;
  code: string;
  kind: ErrorKind;
  message: string;
  data: Record<string, unknown>;
}

export abstract class KilnError extends Error {
  abstract readonly code: string;
  /** The kind of this class's errors unless the thrower says otherwise. */
  static readonly defaultKind: ErrorKind = 'transient';
  readonly kind: ErrorKind;
  readonly data: Record<string, unknown>;

  constructor(message: string, data: Record<string, unknown> = {}, options: KilnErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.data = data;
    this.kind = options.kind ?? (new.target as unknown as typeof KilnError).defaultKind;
  }

  toJSON(): KilnErrorJSON {
    return { name: this.name, code: this.code, kind: this.kind, message: this.message, data: this.data };
  }
}

/** An error that came over the wire: same code, kind, message and data as the one thrown. */
export class RemoteKilnError extends KilnError {
  readonly code: string;
  constructor(json: KilnErrorJSON) {
    super(json.message, json.data, { kind: json.kind });
    this.name = json.name;
    this.code = json.code;
  }
}

/** Pure: the error a toJSON() value describes. Unreadable input becomes a transient KILN_UNKNOWN error. */
export function errorFromJSON(v: unknown): KilnError {
  const o = (typeof v === 'object' && v !== null ? v : {}) as Partial<Record<keyof KilnErrorJSON, unknown>>;
  const str = (x: unknown, d: string) => (typeof x === 'string' && x ? x : d);
  return new RemoteKilnError({
    name: str(o.name, 'KilnError'),
    code: str(o.code, 'KILN_UNKNOWN'),
    kind: isErrorKind(o.kind) ? o.kind : 'transient',
    message: str(o.message, typeof v === 'string' ? v : 'unknown error'),
    data: typeof o.data === 'object' && o.data !== null && !Array.isArray(o.data) ? (o.data as Record<string, unknown>) : {},
  });
}

/** Anything thrown, as it travels: a KilnError's own toJSON(), or KILN_UNEXPECTED with kindOf(e). */
export function errorToJSON(e: unknown): KilnErrorJSON {
  if (e instanceof KilnError) return e.toJSON();
  const err = e instanceof Error ? e : undefined;
  return { name: err?.name ?? 'Error', code: 'KILN_UNEXPECTED', kind: kindOf(e), message: err?.message ?? String(e), data: {} };
}

/**
 * The kind of anything thrown. Kiln errors carry theirs; anything else is a
 * surprise, retried like a transient failure (Flux: unknown errors back off).
 */
export function kindOf(e: unknown): ErrorKind {
  if (e instanceof KilnError) return e.kind;
  const k = (e as { kind?: unknown } | null)?.kind;
  return isKilnJSON(e) && isErrorKind(k) ? k : 'transient';
}

/** errno codes that say the machine is short of something right now (files, memory, disk, time), never that the input is bad. */
const RESOURCE_ERRNOS = new Set(['EMFILE', 'ENFILE', 'ENOMEM', 'ENOSPC', 'EIO', 'EAGAIN', 'EBUSY', 'EINTR', 'ETIMEDOUT', 'EDQUOT']);

/**
 * A system call failed for lack of a resource: code that turns failures into
 * verdicts (a refusal, an invalid file) must let this one through as transient,
 * or a full fd table would be recorded as a judgement on the user's commit.
 */
export function isResourceError(e: unknown): boolean {
  const o = e as { code?: unknown; syscall?: unknown } | null;
  return typeof o === 'object' && o !== null && typeof o.code === 'string' && RESOURCE_ERRNOS.has(o.code);
}

function isKilnJSON(e: unknown): boolean {
  const o = e as { code?: unknown } | null;
  return typeof o === 'object' && o !== null && typeof o.code === 'string' && o.code.startsWith('KILN_');
}

/** One problem found in the metadata repo, with its place. */
export interface Diagnostic extends SourcePosition {
  message: string;
  /** JSON pointer of the offending value, when known. */
  path?: string;
  severity: 'error' | 'warning';
}

export function formatDiagnostic(d: Diagnostic): string {
  const where = [printable(d.file), d.line, d.col].filter((x) => x !== undefined).join(':');
  return `${where}: ${d.severity === 'warning' ? 'warning: ' : ''}${d.message}`;
}

/** The desired state is invalid: every problem, each with file:line:col. */
export class InvalidMetadataError extends KilnError {
  readonly code = 'KILN_INVALID_METADATA';
  static override readonly defaultKind: ErrorKind = 'terminal';
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
  static override readonly defaultKind: ErrorKind = 'usage';
}

/** Something named (a build key, a revision, a file, a repo dir) is not there: the caller's mistake, by default. */
export class NotFoundError extends KilnError {
  readonly code = 'KILN_NOT_FOUND';
  static override readonly defaultKind: ErrorKind = 'usage';
}

/** A git ref or source could not be resolved. Terminal unless the thrower knows it was the network. */
export class SourceResolveError extends KilnError {
  readonly code = 'KILN_SOURCE_RESOLVE';
  static override readonly defaultKind: ErrorKind = 'terminal';
}

/** The status branch moved while we wrote; the caller re-reads, merges and retries. */
export class StatusConflictError extends KilnError {
  readonly code = 'KILN_STATUS_CONFLICT';
}

/** A signing key cannot be used (missing, unreadable, wrong passphrase, expired): the environment's, by default. */
export class SigningError extends KilnError {
  readonly code = 'KILN_SIGNING';
  static override readonly defaultKind: ErrorKind = 'usage';
}

/** The signing key itself cannot sign (its secret does not match it, no valid signing key): signing elsewhere would not help. */
export class SigningKeyError extends KilnError {
  readonly code = 'KILN_SIGNING_KEY';
  static override readonly defaultKind: ErrorKind = 'usage';
}

/** An artifact's bytes do not match the digest that was claimed for them. */
export class DigestMismatchError extends KilnError {
  readonly code = 'KILN_DIGEST_MISMATCH';
}

/** A build failed because of its recipe: retrying will not help. */
export class BuildFailedError extends KilnError {
  readonly code = 'KILN_BUILD_FAILED';
  static override readonly defaultKind: ErrorKind = 'terminal';
}

/** A desired-state commit is not signed by a trusted key. */
export class UntrustedCommitError extends KilnError {
  readonly code = 'KILN_UNTRUSTED_COMMIT';
  static override readonly defaultKind: ErrorKind = 'terminal';
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
  static override readonly defaultKind: ErrorKind = 'terminal';
}

/** An .rpm file whose headers cannot be read (bad magic, an unknown data type, an unterminated string). */
export class RpmFormatError extends KilnError {
  readonly code = 'KILN_RPM_FORMAT';
  static override readonly defaultKind: ErrorKind = 'terminal';
}

/** publishApt was asked for something it must refuse (hostile name, unknown component, a pool file changing bytes). */
export class PublishInputError extends KilnError {
  readonly code = 'KILN_PUBLISH_INPUT';
  static override readonly defaultKind: ErrorKind = 'terminal';
}

/** What a status pass asked to write is unusable (bad path, invalid record, bad trailer): a bug, not a race. */
export class InvalidStatusChangeError extends KilnError {
  readonly code = 'KILN_INVALID_STATUS_CHANGE';
  static override readonly defaultKind: ErrorKind = 'terminal';
}

/** A ref's lock file is held (another writer, or one that was killed while holding it). */
export class RefLockedError extends KilnError {
  readonly code = 'KILN_REF_LOCKED';
}

/** debian/control's Build-Depends cannot be read, or apt cannot satisfy them. */
export class BuildDepsError extends KilnError {
  readonly code = 'KILN_BUILD_DEPS';
  static override readonly defaultKind: ErrorKind = 'terminal';
}

/** A build agent could not do its part (Docker, source fetch, object store): not the recipe's fault. */
export class AgentInfraError extends KilnError {
  readonly code = 'KILN_AGENT_INFRA';
}

/** Another reconciler holds the lease; passes must not overlap. */
export class LeaseHeldError extends KilnError {
  readonly code = 'KILN_LEASE_HELD';
  static override readonly defaultKind: ErrorKind = 'waiting';
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
  static override readonly defaultKind: ErrorKind = 'terminal';
}

/** An artifact is not in the object store (never uploaded, or lost). Not a stall: other work goes on. */
export class ArtifactMissingError extends KilnError {
  readonly code = 'KILN_ARTIFACT_MISSING';
}

// --- Remote metadata repos (reconciler/remote/) ---

/** The remote metadata repo could not be reached (network, DNS, server down): local state stays correct; retry later. */
export class RemoteUnreachableError extends KilnError {
  readonly code = 'KILN_REMOTE_UNREACHABLE';
}

/** The remote refused our credentials (401/403, SSH key not accepted): an unusable environment, never retried. */
export class RemoteAuthError extends KilnError {
  readonly code = 'KILN_REMOTE_AUTH';
  static override readonly defaultKind: ErrorKind = 'usage';
}

/** The remote moved the ref we pushed (compare-and-set lost): fetch, verify, re-apply, push again. */
export class RemoteRejectedError extends KilnError {
  readonly code = 'KILN_REMOTE_REJECTED';
}

/** kiln/status could not be pushed after bounded retries; the local commit stays pending for the next pass. */
export class RemotePushError extends KilnError {
  readonly code = 'KILN_REMOTE_PUSH';
}

// --- OCI registries (oci/) ---

/**
 * A registry operation failed. Transient by default (registry down, 5xx, a timeout): retried,
 * nothing recorded as published. The thrower sets kind 'usage' for refused credentials and
 * 'terminal' for a request the registry will never accept.
 */
export class RegistryError extends KilnError {
  readonly code = 'KILN_REGISTRY';
}

/** The registry has no such repository, tag or manifest. */
export class ImageNotFoundError extends KilnError {
  readonly code = 'KILN_IMAGE_NOT_FOUND';
  static override readonly defaultKind: ErrorKind = 'terminal';
}
