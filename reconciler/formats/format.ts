// A package format (deb today; oci and rpm plug in here): everything the
// reconciler must know about one kind of build output, behind one interface.
// The planner, the collector's publish guard and the publish step ask the
// module chosen by the package's `format:` (formats/index.ts), never Debian
// code directly. The build command itself runs on agents: agents/runners.ts
// picks the runner from the job's `recipe.format` (agents never import this).
import type { Architecture } from '../../schema/metadata.ts';
import type { BuildResult } from '../../schema/messages.ts';
import type { Artifact, RpmHeaderFacts } from '../../schema/status.ts';
import type { DesiredPackage, PackageFormatName } from '../model.ts';

/** What goes into BuildInputs.recipe (and so into the build key) for one package. */
export interface Recipe {
  format: PackageFormatName;
  rebuild: number;
  /** format oci: what the agent builds and the candidate repository it pushes to (BuildInputs.recipe.oci). */
  oci?: { dockerfile: string; context: string; repository: string; from?: string; install?: string[] };
  /** rpm: the spec file, relative to the source subdir. */
  spec?: string;
}

/** What the planner resolved for a recipe from other packages' builds. */
export interface RecipeContext {
  /** An image's base, by digest (HOST/REPO@sha256:…): the image its base package's build pushed, or what its `from:` tag resolved to. */
  base?: string;
}

/** What the collect-time guard knows beyond the result itself. */
export interface ArtifactContext {
  /** The packages the metadata declares (the desired state the reconciler read last), by name. */
  declared: ReadonlyMap<string, Pick<DesiredPackage, 'format'>>;
  /** Filled by the rpm guard: each rpm artifact's header as rpm read it from the verified bytes, by sha256 (recorded with the header-signed copy). */
  rpmHeaders?: Map<string, RpmHeaderFacts>;
}

export interface PackageFormat<P extends DesiredPackage = DesiredPackage> {
  readonly name: P['format'];
  /** How messages name a version of this format, e.g. 'Debian version'. */
  readonly versionLabel: string;
  /** The recipe agents run: its `format` picks the agent's runner. */
  recipe(pkg: P, context?: RecipeContext): Recipe;
  /** Total order of this format's versions: negative when a < b, 0 when equal, positive when a > b. */
  compareVersions(a: string, b: string): number;
  /** Why `version` is not a valid version of this format (undefined: it is). Checked when the metadata is read. */
  versionProblem(version: string): string | undefined;
  /** Whether an artifact (by file name) enters a release; other artifacts (logs, build info) are kept but not released. */
  isReleasable(artifactName: string): boolean;
  /**
   * The releasable artifacts of one build that belong to `arch` (a package built for several architectures is
   * released per architecture). `own`: the sha256 of the artifacts `arch`'s build recorded, for a format whose
   * file names do not say the architecture (oci: every build's description is image.json).
   */
  artifactsForArch<A extends Pick<Artifact, 'name'> & Partial<Pick<Artifact, 'sha256'>>>(artifacts: A[], arch: Architecture | string, own?: ReadonlySet<string>): A[];
  /**
   * Publish guard, before a success is recorded: the problems of a build's artifacts judged from their
   * own bytes (an artifact that is not of the declared package, version or architecture). Empty: releasable.
   */
  artifactProblems(result: BuildResult, readArtifact: (a: Artifact) => Promise<Buffer>, context: ArtifactContext): Promise<string[]>;
  /** Whether artifactProblems needs `context.declared` (a result is held back until the desired state has been read). */
  readonly needsDeclared?: boolean;
}
