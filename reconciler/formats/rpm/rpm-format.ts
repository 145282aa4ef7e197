// The rpm package format: `rpmbuild -ba` of the package's spec (agents' rpm
// runner), rpm's version order on `[E:]V-R`, `<n>-<v>-<r>.<arch>.rpm` artifacts
// where `.noarch.rpm` belongs to every architecture and `.src.rpm` is kept but
// not released, and the publish guard that asks rpm for each file's header.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BuildResult } from '../../../schema/messages.ts';
import type { Artifact } from '../../../schema/status.ts';
import { rpmArch } from '../../../rpm/arch.ts';
import { headerFacts } from '../../publish/rpm/header-facts.ts';
import { compareEvr, rpmVersionProblem } from '../../../rpm/version-order.ts';
import type { RpmPackage } from '../../model.ts';
import { headerEvr, headerNameProblem, ownerOf, readRpm } from '../../publish/rpm/read-rpm.ts';
import type { ArtifactContext, PackageFormat } from '../format.ts';

const isReleasable = (name: string) => name.endsWith('.rpm') && !name.endsWith('.src.rpm');

export const rpmFormat: PackageFormat<RpmPackage> = {
  name: 'rpm',
  versionLabel: 'rpm version',
  recipe: (pkg) => ({ format: 'rpm', rebuild: pkg.rebuild, spec: pkg.spec }),
  compareVersions: compareEvr,
  versionProblem: rpmVersionProblem,
  isReleasable,
  needsDeclared: true,
  artifactsForArch(artifacts, arch) {
    const rpms = artifacts.filter((a) => isReleasable(a.name));
    const mine = rpms.filter((a) => a.name.endsWith(`.${rpmArch(arch) ?? arch}.rpm`) || a.name.endsWith('.noarch.rpm'));
    return mine.length ? mine : rpms;
  },
  async artifactProblems(result: BuildResult, readArtifact: (a: Artifact) => Promise<Buffer>, { declared, rpmHeaders }: ArtifactContext) {
    // The rpm packages of the metadata (and this one): the publisher judges names against the same rule.
    const rpmPackages = new Set([result.inputs.package, ...[...declared].filter(([, p]) => p.format === 'rpm').map(([name]) => name)]);
    const rpms = result.artifacts.filter((a) => isReleasable(a.name));
    if (rpms.length === 0) return [`the build yielded no publishable binary rpm (only ${result.artifacts.map((a) => a.name).join(', ') || 'nothing'})`];
    const dir = await mkdtemp(join(tmpdir(), 'kiln-rpm-guard-'));
    const problems: string[] = [];
    try {
      for (const a of rpms) {
        const path = join(dir, 'artifact.rpm');
        await writeFile(path, await readArtifact(a));
        try {
          const h = await readRpm(path, a.name);
          const unsafe = headerNameProblem(h, a.name);
          if (unsafe) {
            problems.push(unsafe);
            continue;
          }
          const want = rpmArch(result.inputs.arch);
          // Subpackages carry their own names (<package>-<suffix>); the version must be the package's.
          const owner = ownerOf(h.name, rpmPackages);
          if (owner !== result.inputs.package) problems.push(`${a.name}: the header names package ${h.name}, not ${result.inputs.package} or one of its subpackages${owner ? ` (${owner} is a package of its own)` : ''}`);
          if (headerEvr(h) !== result.inputs.version) problems.push(`${a.name}: the header says version ${headerEvr(h)}, the package is ${result.inputs.version}`);
          if (h.arch !== 'noarch' && h.arch !== want) problems.push(`${a.name}: built for ${h.arch}, the build was for ${want ?? result.inputs.arch}`);
          // A binary rpm's name on a source package: it would be served as the .src.rpm it is.
          if (h.source) problems.push(`${a.name}: a source rpm (its header names no source package) under a binary rpm's name`);
          // Read from exactly the bytes of this digest: the publish trusts it for their signed copy.
          const facts = headerFacts(h);
          if (facts) rpmHeaders?.set(a.sha256, facts);
        } catch (e) {
          problems.push((e as Error).message);
        }
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    return problems;
  },
};
