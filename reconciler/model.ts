// The reconciler's in-memory model: desired state (normalised from the
// metadata repo), observed state (read from the status branch) and the plan
// that turns one into the other. Pure data; no I/O.
import type { Architecture, ForgeConfig } from '../schema/metadata.ts';
import type { ResolvedLimits } from '../schema/messages.ts';
import type { BuildInputs, BuildRecord, CheckRecord, ConditionRecord, GateRecord, ReleaseRecord } from '../schema/status.ts';
import type { ForgeStatusRecord } from '../schema/forge.ts';
import type { ActionKind, Reason } from '../schema/conditions.ts';
import type { Relation } from '../debian/control.ts';

/** What a source's debian/control says at the pinned commit: its binaries and Build-Depends, or why it could not be read. */
export type SourceControl = { ok: true; binaries: string[]; buildDepends: Relation[] } | { ok: false; message: string };

export type RebuildDependents = 'always' | 'on-version-change' | 'never';

/** Package formats (`format:` of packages/*.yaml). Each has a module in reconciler/formats/; 'oci' and 'rpm' are next. */
export type PackageFormatName = 'deb' | 'oci' | 'rpm';
/** Release-target formats (`format:` of distributions/*.yaml). Each has a module in reconciler/release-targets/. */
export type DistributionFormatName = 'apt' | 'registry' | 'dnf';

/** Fields every package has, whatever its format. */
export interface PackageBase {
  name: string;
  /** Path of the file that declared it, e.g. packages/hello.yaml. */
  file: string;
  version: string;
  source: {
    /** As written in the file. */
    git: string;
    /** Absolute URL or path agents can fetch from. */
    url: string;
    ref: string;
    /** The ref resolved to a commit id. */
    commit: string;
    subdir?: string;
  };
  format: PackageFormatName;
  architectures: Architecture[];
  image: string;
  pool: string;
  limits: ResolvedLimits;
  release: string[];
  rebuild: number;
  /** Command promotion gates run in the installed package / image. */
  smoke?: string;
}

export interface DebPackage extends PackageBase {
  format: 'deb';
  /** Distribution whose published packages satisfy in-repo Build-Depends (package > pool > defaults). */
  buildFrom?: string;
  /** What a rebuild of this package means for the packages built against it (absent: on-version-change). */
  rebuildDependents?: RebuildDependents;
  /** Build without waiting for in-repo dependencies (breaks a cycle). */
  bootstrap?: boolean;
  /** debian/control at source.commit: binaries produced and Build-Depends (absent: not read, e.g. hand-made test state). */
  control?: SourceControl;
}

export interface OciPackage extends PackageBase {
  format: 'oci';
  /** Paths relative to the source subdir. */
  dockerfile: string;
  context: string;
  /**
   * The base: an image by digest (HOST/REPO@sha256:…), another Kiln oci package (layered images),
   * or an image by tag in a registry (HOST/REPO:TAG), which each pass resolves to its digest
   * (ObservedState.imageTags) the way a source ref is resolved to a commit.
   */
  from?: { image: string } | { package: string } | { tag: string };
  /** Tag templates ({version}, {build}). */
  tags: string[];
  /** The image-test gate's command. */
  test?: string;
  /** Binary packages of this repo the build gets in its context (.kiln-debs/), fetched from buildFrom before the network-less build. */
  install?: string[];
  /** Distribution the `install:` packages come from (package > pool > defaults, as for deb). */
  buildFrom?: string;
  /** Debian-only fields, absent here (so code over every package reads them as undefined). An image built FROM a rebuilt base is always rebuilt (a new base digest is a new input). */
  rebuildDependents?: undefined;
  control?: undefined;
  bootstrap?: undefined;
}

/** A desired package, discriminated by `format` (add a variant per format: OciPackage, RpmPackage). */
export interface RpmPackage extends PackageBase {
  format: 'rpm';
  /** The spec, relative to the source subdir; version is `[E:]V-R` as the spec declares it. */
  spec: string;
  // No in-repo build dependencies for rpm yet: the deb-only fields are always absent, so the
  // dependency planner reads them off any package without narrowing.
  control?: undefined;
  bootstrap?: undefined;
  buildFrom?: undefined;
  rebuildDependents?: undefined;
}

/** A desired package, discriminated by `format`. */
export type DesiredPackage = DebPackage | OciPackage | RpmPackage;

/** Fields every distribution has, whatever its release target. */
export interface DistributionBase {
  name: string;
  file: string;
  format: DistributionFormatName;
  architectures: Architecture[];
  signingKey?: string;
  keep: number;
  promoteFrom?: string;
  gate: string;
}

export interface AptDistribution extends DistributionBase {
  format: 'apt';
  suite: string;
  codename: string;
  components: string[];
  origin: string;
  label: string;
  description?: string;
  validForDays?: number;
  gate: 'install-smoke' | 'none';
}

export interface RegistryDistribution extends DistributionBase {
  format: 'registry';
  /** HOST[:PORT] as consumers name it. */
  url: string;
  /** Repository prefix: images are PREFIX/NAME (empty: NAME). */
  repository: string;
  /** The registry at url speaks plain http (its own `insecure:` or kiln.yaml `registries.<url>.insecure`). */
  insecure: boolean;
  /**
   * Every other registry host Kiln reaches over plain http (kiln.yaml `registries`), e.g. the
   * candidate registry promotions copy from. Absent: none.
   */
  plainHttp?: string[];
  gate: 'image-test' | 'none';
}

export interface DnfDistribution extends DistributionBase {
  format: 'dnf';
  /** name= of the generated .repo file. */
  title?: string;
  /** baseurl= of the generated .repo file (default: file:// of the published directory). */
  baseUrl?: string;
  /** Image with dnf for the install-smoke gate. */
  gateImage: string;
  gate: 'install-smoke' | 'none';
}

/** A desired distribution, discriminated by `format`. */
export type DesiredDistribution = AptDistribution | RegistryDistribution | DnfDistribution;

export interface PoolConfig {
  architectures: Architecture[];
  image?: string;
  limits: ResolvedLimits;
  buildFrom?: string;
}

export interface DesiredConfig {
  trust: { keys: string[]; requireSignedCommits: boolean };
  signing: { publicKey?: string };
  /** kiln.yaml `repoUrl`: where agents reach the published repositories (a buildFrom distribution is <repoUrl>/<name>). */
  repoUrl?: string;
  /** kiln.yaml `forge:`: where commit statuses go (reconciler/forge). */
  forge?: ForgeConfig;
  /** kiln.yaml `registries:`: how each OCI registry (HOST[:PORT]) is reached (absent: every one over TLS). */
  registries?: Record<string, { insecure: boolean }>;
  pools: Record<string, PoolConfig>;
  defaults: { pool: string; image: string; limits: ResolvedLimits; maxAttempts: number; keep: number; buildFrom?: string; rebuildDependents?: RebuildDependents };
}

export interface DesiredState {
  /** The metadata repo commit this was read from. */
  commit: string;
  config: DesiredConfig;
  packages: ReadonlyMap<string, DesiredPackage>;
  distributions: Map<string, DesiredDistribution>;
}

export interface ObservedState {
  /** The status branch commit this was read from (undefined: no branch yet). */
  statusCommit?: string;
  /** The last desired commit a pass reconciled (Kiln-Desired trailer). */
  desiredCommit?: string;
  builds: Map<string, BuildRecord>;
  releases: Map<string, ReleaseRecord>;
  /** Keyed by `${dist}/${package}/${version}`. */
  gates: Map<string, GateRecord>;
  /** Keyed by desired commit id. */
  checks: Map<string, CheckRecord>;
  /** Keyed by condition type ('Ready'). */
  conditions: Map<string, ConditionRecord>;
  /** Commit statuses the forge must show (forge/statuses/<commit>.yaml), keyed by desired commit id. */
  forge: Map<string, ForgeStatusRecord>;
  /** Distribution -> how its published repository differs from its release record (observed on disk, not on the branch). */
  drift?: Map<string, string>;
  /** Base images named by tag (`from: HOST/REPO:TAG`) -> the digest the registry serves, or why it could not be read (observed, not on the branch). */
  imageTags?: Map<string, { digest: string } | { error: string; retryAt: string }>;
}

export const gateId = (dist: string, pkg: string, version: string) => `${dist}/${pkg}/${version}`;

export function emptyObserved(): ObservedState {
  return { builds: new Map(), releases: new Map(), gates: new Map(), checks: new Map(), conditions: new Map(), forge: new Map() };
}

interface ActionBase {
  kind: ActionKind;
  reason: Reason;
  /** One human sentence: why this action is needed. */
  message: string;
}

export interface BuildAction extends ActionBase {
  kind: 'build';
  key: string;
  package: string;
  version: string;
  arch: Architecture;
  pool: string;
  attempt: number;
  inputs: BuildInputs;
  limits: ResolvedLimits;
  /** The package's buildFrom distribution: the job carries it as an apt source. */
  buildFrom?: string;
}

export interface PublishAction extends ActionBase {
  kind: 'publish';
  distribution: string;
  package: string;
  version: string;
  /** arch -> build key of a succeeded build. */
  builds: Record<string, string>;
}

export interface PruneAction extends ActionBase {
  kind: 'prune';
  distribution: string;
  package: string;
  version: string;
}

/** Publish a distribution's recorded content again: its repository on disk is not what was recorded. */
export interface RepublishAction extends ActionBase {
  kind: 'republish';
  distribution: string;
}

export interface GateAction extends ActionBase {
  kind: 'gate';
  /** The distribution being promoted into. */
  distribution: string;
  from: string;
  package: string;
  version: string;
  builds: Record<string, string>;
  /** The version its binaries carry, when a binNMU rebuild made it differ from `version`. */
  installVersion?: string;
  smoke?: string;
}

export interface RefuseAction extends ActionBase {
  kind: 'refuse';
  commit: string;
}

export type Action = BuildAction | PublishAction | PruneAction | RepublishAction | GateAction | RefuseAction;

/** Something desired that this pass cannot act on yet, and why. */
export interface Waiting {
  subject: string;
  reason: string;
  message: string;
  /** ISO time at which the wait ends by itself (a retry's backoff, a queued build's grace): the loop wakes then. */
  until?: string;
}

export interface Plan {
  desiredCommit: string;
  actions: Action[];
  waiting: Waiting[];
}
