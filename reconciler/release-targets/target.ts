// A release target (apt today; registry and dnf plug in here): one kind of
// published distribution, behind one interface. The pass's publish, observe
// and gate steps, `kiln keys renew` and `kiln serve` use the module chosen by
// the distribution's `format:` (release-targets/index.ts). Every
// implementation passes test/conformance/release-target.ts.
import type { RegistryAuth } from '../../oci/registry-auth.ts';
import type { ImageIndexRecord } from '../../schema/oci.ts';
import type Docker from 'dockerode';
import type { Logger } from 'pino';
import type { GateRecord, ReleaseRecord, RpmHeaderFacts } from '../../schema/status.ts';
import type { DesiredDistribution, PackageFormatName } from '../model.ts';
import type { Signer } from '../signing/signer.ts';

/** One artifact of a release as a local file, with the digest it must have. */
export interface LocalArtifact {
  name: string;
  sha256: string;
  size: number;
  path: string;
  /** rpm: the copy whose header the reconciler signed at collect (build record `signed`), in the local cache. */
  headerSigned?: HeaderSignedCopy;
}

/** A header-signed copy of an artifact: where it is, its digest, by which key, the embedded signature. */
export interface HeaderSignedCopy {
  path: string;
  sha256: string;
  size: number;
  signingKey: string;
  signature?: string;
  /** What rpm read of the built rpm's header at collect (trusted by a publish with `signingKey` while the copy's sha256 matches). */
  rpm?: RpmHeaderFacts;
}

/** One package version for one architecture and its artifacts (already chosen by the package format). */
export interface ReleaseUnit {
  name: string;
  version: string;
  /** The version its artifacts carry when it is not `version` (a binNMU rebuild: <version>+kilnN). */
  binaryVersion?: string;
  arch: string;
  files: LocalArtifact[];
  /** The build key the unit comes from (registry: `{build}` is its first 12 digits). */
  build?: string;
  /** Registry: the package's tag templates (default `{version}`). */
  tagTemplates?: string[];
}

export interface ApplyRequest<D extends DesiredDistribution = DesiredDistribution> {
  /** Root of everything published: this distribution lives at ROOT/<distribution.name>. */
  root: string;
  distribution: D;
  /** The COMPLETE content after this release: what is not listed is pruned. */
  units: ReleaseUnit[];
  signer: Signer;
  now: Date;
  log?: Logger;
  /** Where artifacts come from: hard links from the content-addressed cache, or copies. */
  inputs?: 'link' | 'copy';
  /** Ignore any memo of what was published: read, check and write everything again (the target drifted). */
  fresh?: boolean;
  /** Where ROOT is served over HTTP, if it is (kiln.yaml `repoUrl`, or this service's /repos): files telling users where to fetch from name it. */
  reposUrl?: string;
  /** Registry targets: the reconciler's credentials (`--registry-auth`; from its settings, never from git). */
  registryAuth?: RegistryAuth;
}

export interface ApplyReport {
  /** sha256 of the signed top-level file (apt: Release), recorded on the status branch; observe() checks it. */
  releaseSha256: string;
  /** False when the target already held exactly this content. */
  changed: boolean;
  /** Targets that sign each artifact as they publish it (dnf: rpm headers): every published file, its digest and signature. */
  signed?: SignedArtifact[];
  /** Registry targets: every tag as published now (recorded per row in releases/<dist>.yaml). */
  tags?: Array<{
    repository: string;
    tag: string;
    digest: string;
    package?: string;
    version?: string;
    signature?: { file: string; sha256: string; signingKey: string };
    imageSignatures?: Array<{ digest: string; file: string; sha256: string }>;
  }>;
  /** Registry targets: the image index of each version built for several architectures (recorded in releases/<dist>.yaml). */
  indexes?: ImageIndexRecord[];
}

/** An artifact as the target published it: signed in place, so with another digest than the built one. */
export interface SignedArtifact {
  /** File name as published. */
  name: string;
  /** sha256 of the built artifact it was made from. */
  built: string;
  sha256: string;
  size: number;
  signingKey: string;
  /** The embedded signature, ASCII-armored. */
  signature?: string;
}

export interface Observation {
  /** How the published target differs from its record (undefined: it does not). */
  drift?: string;
  /** Where a bounded rotation over large content continues next time. */
  cursor: number;
}

export interface SignedRepository {
  distribution: string;
  /** Whether everything signed there is signed by the key. */
  signedByKey: boolean;
  note?: string;
}

export interface GateRequest<D extends DesiredDistribution = DesiredDistribution> {
  docker: Docker;
  /** Base image of the gate's clean container. */
  image: string;
  root: string;
  /** The published distribution the version is taken from. */
  from: D;
  /** The distribution being promoted into. */
  distribution: string;
  package: string;
  version: string;
  /** The version the binaries carry when it is not `version` (a binNMU rebuild: <version>+kilnN). */
  installVersion?: string;
  /** The package's smoke/test command. */
  smoke?: string;
  timeoutSeconds: number;
  log: Logger;
  /** Registry targets: credentials to pull the image under test with (the reconciler's --registry-auth). */
  registryAuth?: RegistryAuth;
  /** Registry targets: this host's process.arch and binfmt_misc directory (tests inject them). */
  host?: { arch?: string; binfmtDir?: string };
}

export interface ReleaseTarget<D extends DesiredDistribution = DesiredDistribution> {
  readonly name: D['format'];
  /** Package formats this target releases (apt: deb). */
  readonly packageFormats: readonly PackageFormatName[];
  /** Publish the complete next content (add, keep, prune) atomically and signed. Readers never see a half-written state. */
  apply(req: ApplyRequest<D>): Promise<ApplyReport>;
  /** Compare what is published with its release record (drift); cheap enough for every full pass. */
  observe(root: string, dist: D, record: ReleaseRecord, cursor: number, registryAuth?: RegistryAuth): Promise<Observation>;
  /** The one file whose stat() changes whenever the target is republished: the quiet pass's cheap check. */
  changeMarker(root: string, dist: D): string;
  /** Whether the signatures must be refreshed now (e.g. apt's Valid-Until more than half used). */
  dueForResign(root: string, dist: D, now: Date): Promise<boolean>;
  /** Sign again what is published under ROOT/<name> (same content), with `signer`. */
  resign(root: string, name: string, signer: Signer, now: Date): Promise<{ parts: string[] }>;
  /** Distributions of this target under ROOT and whether the key signs them (`kiln keys renew`, which knows no desired state). */
  findSigned(root: string, publicKeyArmored: string): Promise<SignedRepository[]>;
  /** Promotion gate: the version from `from`, in a clean network-less container. Throws GateInfraError when it could not run. */
  gate(req: GateRequest<D>): Promise<GateRecord>;
  /** `kiln serve`: the content type of a published file of this target, if it knows it. */
  contentType(rel: string): string | undefined;
  /** `kiln serve`: whether a published path never changes under its name (cacheable forever). */
  immutable(rel: string): boolean;
}
