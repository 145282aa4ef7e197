// Whether a successful build yielded something publishable, judged from the
// artifacts' own bytes before the success is recorded (and so before anything
// is published): at least one .deb, and every .deb is a binary of the declared
// package at the declared version and architecture (publish/deb/identity.ts).
// A build that fails this failed: class 'build', with the reason.
import { readFile } from 'node:fs/promises';
import type { BuildResult } from '../../schema/messages.ts';
import { identityProblems } from '../publish/deb/identity.ts';
import { readDebControl } from '../publish/deb/read-deb.ts';
import { cachedArtifactPath } from './artifact-cache.ts';
import { asFailedResult } from './collect.ts';

/** Only .deb files enter an apt repository (a .udeb, .ddeb or .buildinfo alone publishes nothing). */
export const isPublishable = (name: string) => name.endsWith('.deb');

/** The problems of one verified, locally cached result; empty when it may be recorded as a success. */
export async function publishableProblems(result: BuildResult, cacheDir: string): Promise<string[]> {
  const debs = result.artifacts.filter((a) => isPublishable(a.name));
  if (debs.length === 0) {
    const names = result.artifacts.map((a) => a.name).join(', ') || 'nothing';
    return [`the build yielded no publishable .deb (only ${names})`];
  }
  const want = { source: result.inputs.package, version: result.inputs.version, arch: result.inputs.arch, binaries: result.binaries };
  const problems: string[] = [];
  for (const a of debs) {
    try {
      const fields = await readDebControl(await readFile(cachedArtifactPath(cacheDir, a.sha256)), a.name);
      problems.push(...identityProblems(a.name, fields, want));
    } catch (e) {
      problems.push((e as Error).message);
    }
  }
  return problems;
}

/** The result as it may be recorded: a success that is not publishable becomes a failed build. */
export async function checkPublishable(result: BuildResult, cacheDir: string): Promise<BuildResult> {
  if (result.outcome !== 'succeeded' || result.inputs.recipe.format !== 'deb') return result;
  const problems = await publishableProblems(result, cacheDir);
  return problems.length ? asFailedResult(result, 'build', 'not publishable', problems) : result;
}
