// The package-format table: `format:` of a package -> its module. Adding a
// format is one entry here (and its variant of DesiredPackage in model.ts).
import type { DesiredPackage, PackageFormatName } from '../model.ts';
import type { PackageFormat } from './format.ts';
import { debFormat } from './deb/deb-format.ts';
import { ociFormat } from './oci/oci-format.ts';
import { rpmFormat } from './rpm/rpm-format.ts';

const FORMATS: { [K in PackageFormatName]: PackageFormat<Extract<DesiredPackage, { format: K }>> } = {
  deb: debFormat,
  oci: ociFormat,
  rpm: rpmFormat,
};

export const PACKAGE_FORMAT_NAMES = Object.keys(FORMATS) as PackageFormatName[];

/** The module of a format named in a build's recipe or a package; undefined for a format this reconciler does not know. */
export function formatNamed(name: string): PackageFormat | undefined {
  return Object.hasOwn(FORMATS, name) ? (FORMATS[name as PackageFormatName] as PackageFormat) : undefined;
}

/** The module of a package's format. */
export const packageFormat = <P extends DesiredPackage>(pkg: P): PackageFormat<P> => FORMATS[pkg.format] as unknown as PackageFormat<P>;

export type { PackageFormat, Recipe } from './format.ts';
