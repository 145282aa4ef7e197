// Whether a successful build yielded something publishable, judged from the
// artifacts' own bytes before the success is recorded (and so before anything
// is published): the build's format module (reconciler/formats) says which
// artifacts are releasable and whether they are of the declared package,
// version and architecture (deb: at least one .deb, each a binary of the
// declared package). A build that fails this failed: class 'build', with the reason.
import { readFile } from 'node:fs/promises';
import type { BuildResult } from '../../schema/messages.ts';
import type { ArtifactContext } from '../formats/format.ts';
import { formatNamed } from '../formats/index.ts';
import { cachedArtifactPath } from './artifact-cache.ts';
import { asFailedResult } from './collect.ts';

/** Reads a verified artifact's bytes (by default from the local cache). */
export type ArtifactReader = (a: BuildResult['artifacts'][number]) => Promise<Buffer>;

const fromCache = (cacheDir: string): ArtifactReader => (a) => readFile(cachedArtifactPath(cacheDir, a.sha256));

/** The problems of one verified result; empty when it may be recorded as a success. */
export async function publishableProblems(result: BuildResult, cacheDir: string, read: ArtifactReader = fromCache(cacheDir), context: ArtifactContext = { declared: new Map() }): Promise<string[]> {
  const format = formatNamed(result.inputs.recipe.format);
  if (!format) return [];
  return format.artifactProblems(result, read, context);
}

/** Whether judging this result needs the declared packages (the desired state) first. */
export const needsDeclared = (result: BuildResult): boolean => result.outcome === 'succeeded' && Boolean(formatNamed(result.inputs.recipe.format)?.needsDeclared);

/** The result as it may be recorded: a success that is not publishable becomes a failed build. */
export async function checkPublishable(result: BuildResult, cacheDir: string, read?: ArtifactReader, context?: ArtifactContext): Promise<BuildResult> {
  if (result.outcome !== 'succeeded' || !formatNamed(result.inputs.recipe.format)) return result;
  const problems = await publishableProblems(result, cacheDir, read, context);
  return problems.length ? asFailedResult(result, 'build', 'not publishable', problems) : result;
}
