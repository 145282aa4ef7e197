// The deb package format: dpkg-buildpackage recipes (run by agents' docker
// runner), dpkg version order, `<name>_<version>_<arch>.deb` artifacts where
// `_all.deb` belongs to every architecture, and the publish guard that reads
// each .deb's control fields (publish/deb/identity.ts). A build's source package
// (.dsc and the files it lists) is released with its binaries, in every architecture's
// unit (the publisher places it once), and checked before the success is recorded.
import { binaryVersion } from '../../../schema/binnmu.ts';
import type { BuildResult } from '../../../schema/messages.ts';
import type { Artifact } from '../../../schema/status.ts';
import { debianVersionProblem } from './debian-version.ts';
import type { DebPackage } from '../../model.ts';
import { SOURCE_FILE_NAME } from '../../publish/apt/layout.ts';
import { publishedArtifacts } from '../../publish/apt/published-artifacts.ts';
import { identityProblems } from '../../publish/deb/identity.ts';
import { readDebControl } from '../../publish/deb/read-deb.ts';
import type { PackageFormat } from '../format.ts';
import { sourcePackageProblems } from './source-package-problems.ts';
import { compareDebianVersions } from './version-order.ts';

/** Binaries that enter an apt repository (a .udeb, .ddeb or .buildinfo alone publishes nothing). */
const isDeb = (name: string) => name.endsWith('.deb');
/** .debs, and the files of the source package (.dsc, tarballs). */
const isReleasable = (name: string) => isDeb(name) || SOURCE_FILE_NAME.test(name);

export const debFormat: PackageFormat<DebPackage> = {
  name: 'deb',
  versionLabel: 'Debian version',
  recipe: (pkg) => ({ format: 'deb', rebuild: pkg.rebuild }),
  compareVersions: compareDebianVersions,
  versionProblem: debianVersionProblem,
  isReleasable,
  artifactsForArch(artifacts, arch) {
    const { debs, source } = publishedArtifacts(artifacts);
    const mine = debs.filter((a) => a.name.endsWith(`_${arch}.deb`) || a.name.endsWith('_all.deb'));
    // Files whose names say no architecture (hand-made names) all go to each architecture, as before.
    return [...(mine.length ? mine : debs), ...source];
  },
  async artifactProblems(result: BuildResult, readArtifact: (a: Artifact) => Promise<Buffer>) {
    const debs = result.artifacts.filter((a) => isDeb(a.name));
    if (debs.length === 0) {
      const names = result.artifacts.map((a) => a.name).join(', ') || 'nothing';
      return [`the build yielded no publishable .deb (only ${names})`];
    }
    // A binNMU rebuild's binaries carry <version>+kilnN (schema/binnmu.ts), and only that.
    const want = { source: result.inputs.package, version: binaryVersion(result.inputs), arch: result.inputs.arch, binaries: result.binaries };
    const problems: string[] = [];
    for (const a of debs) {
      try {
        problems.push(...identityProblems(a.name, await readDebControl(await readArtifact(a), a.name), want));
      } catch (e) {
        problems.push((e as Error).message);
      }
    }
    return [...problems, ...(await sourcePackageProblems(result, readArtifact))];
  },
};
