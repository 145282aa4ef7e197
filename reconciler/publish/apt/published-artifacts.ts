// Which of a released package's recorded artifacts go into the pool: its .debs
// and, when the build made one, its source package (the .dsc and the files named
// like source files). Every architecture's build makes the same source package,
// so a name is taken once, from the first build that has it; the publisher then
// checks the .dsc lists exactly those bytes (source-entries.ts). Pure; shared by
// the publish step and the drift observer so both mean the same files.
import { DEB_FILE_NAME, SOURCE_FILE_NAME } from './layout.ts';

export function publishedArtifacts<A extends { name: string }>(artifacts: readonly A[]): { debs: A[]; source: A[] } {
  const debs = artifacts.filter((a) => DEB_FILE_NAME.test(a.name));
  if (!artifacts.some((a) => a.name.endsWith('.dsc'))) return { debs, source: [] };
  const byName = new Map<string, A>();
  for (const a of artifacts) if (SOURCE_FILE_NAME.test(a.name) && !byName.has(a.name)) byName.set(a.name, a);
  return { debs, source: [...byName.values()] };
}
