// The files a publish will place, checked before anything is touched: hostile
// names never reach a path. Pure.
import { PublishInputError } from '../../../schema/errors.ts';
import type { AptDistribution } from '../../model.ts';
import { components, DEB_FILE_NAME, poolPath, SOURCE_FILE_NAME, SOURCE_NAME } from './layout.ts';
import type { InputFile } from './pool-file.ts';

export interface PlanPackage {
  /** Source package name: the pool directory. */
  name: string;
  version: string;
  /** The version its binaries carry when it is not `version` (a binNMU rebuild: <version>+kilnN). */
  binaryVersion?: string;
  arch: string;
  /** Default: the distribution's first component. */
  component?: string;
  /** Its .debs, and (optionally) its source package: the .dsc and every file the .dsc lists. */
  files: InputFile[];
}

export interface PlannedFile {
  /** A binary (.deb) or a file of the source package (.dsc, tarballs). */
  kind: 'deb' | 'source';
  component: string;
  source: string;
  /** The package version the file belongs to (errors name the package and version). */
  version: string;
  /** The version the file's control must say (`version`, or a binNMU's <version>+kilnN). */
  binaryVersion: string;
  file: InputFile;
  poolRel: string;
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Check names and shapes before touching anything; hostile names never reach a path. */
export function planFiles(input: { distribution: AptDistribution; packages: PlanPackage[] }): PlannedFile[] {
  const dist = input.distribution;
  const where = dist.file || `distribution ${dist.name}`;
  if (!SOURCE_NAME.test(dist.name)) throw new PublishInputError(`${where}: distribution name '${dist.name}' cannot be a directory name`, { field: 'name' });
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(dist.suite)) throw new PublishInputError(`${where}: suite '${dist.suite}' is not a safe name`, { field: 'suite' });
  const comps = components(dist);
  for (const c of comps) if (!/^[a-z0-9][a-z0-9-]*$/.test(c)) throw new PublishInputError(`${where}: component '${c}' is not a safe name`, { field: 'components' });
  const byPath = new Map<string, PlannedFile>();
  for (const pkg of input.packages) {
    const what = `${pkg.name} ${pkg.version} (${pkg.arch})`;
    if (!SOURCE_NAME.test(pkg.name)) throw new PublishInputError(`${what}: '${pkg.name}' is not a valid source package name`, { package: pkg.name, version: pkg.version, field: 'name' });
    const component = pkg.component ?? comps[0];
    if (!comps.includes(component)) {
      throw new PublishInputError(`${what}: component '${component}' is not one of ${dist.name}'s components (${comps.join(', ')})`, { package: pkg.name, version: pkg.version, field: 'component' });
    }
    for (const file of pkg.files) {
      const kind = DEB_FILE_NAME.test(file.name) ? 'deb' : SOURCE_FILE_NAME.test(file.name) ? 'source' : undefined;
      if (!kind) throw new PublishInputError(`${what}: '${file.name}' is neither a .deb nor a source package file name`, { package: pkg.name, version: pkg.version, file: file.name });
      if (!HEX64.test(file.sha256)) throw new PublishInputError(`${what}: ${file.name} has no valid sha256`, { package: pkg.name, version: pkg.version, file: file.name });
      const poolRel = poolPath(component, pkg.name, file.name);
      const seen = byPath.get(poolRel);
      if (seen && seen.file.sha256 !== file.sha256) {
        throw new PublishInputError(`${what}: ${file.name} is given twice with different contents (${seen.file.sha256.slice(0, 12)}…, ${file.sha256.slice(0, 12)}…)`, {
          package: pkg.name,
          version: pkg.version,
          file: file.name,
        });
      }
      byPath.set(poolRel, { kind, component, source: pkg.name, version: pkg.version, binaryVersion: pkg.binaryVersion ?? pkg.version, file, poolRel });
    }
  }
  return [...byPath.values()];
}

