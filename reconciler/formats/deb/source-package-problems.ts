// The publish guard for a build's source package, before its success is
// recorded: one .dsc, of the declared source and version (publish/deb/dsc.ts),
// and every file it lists among the uploaded artifacts with the listed digest.
// A result without a .dsc (an agent from before source packages) has none to check.
import type { BuildResult } from '../../../schema/messages.ts';
import type { Artifact } from '../../../schema/status.ts';
import { dscProblems, parseDsc } from '../../publish/deb/dsc.ts';

export async function sourcePackageProblems(result: BuildResult, readArtifact: (a: Artifact) => Promise<Buffer>): Promise<string[]> {
  const dscs = result.artifacts.filter((a) => a.name.endsWith('.dsc'));
  if (dscs.length === 0) return [];
  if (dscs.length > 1) return [`the build yielded ${dscs.length} .dsc files (${dscs.map((a) => a.name).join(', ')}); a source package has one`];
  const byName = new Map<string, Artifact>(result.artifacts.map((a) => [a.name, a]));
  try {
    const dsc = parseDsc((await readArtifact(dscs[0])).toString('utf8'), dscs[0].name);
    const problems = dscProblems(dscs[0].name, dsc, { source: result.inputs.package, version: result.inputs.version });
    for (const f of dsc.files) {
      const a = byName.get(f.name);
      if (!a) problems.push(`${dscs[0].name} lists ${f.name}, which the build did not yield`);
      else if ((f.sha256 && f.sha256 !== a.sha256) || f.size !== a.size) problems.push(`${dscs[0].name} lists ${f.name} with other digests than the uploaded file`);
    }
    return problems;
  } catch (e) {
    return [(e as Error).message];
  }
}
