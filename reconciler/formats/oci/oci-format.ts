// The oci package format: a Dockerfile built by agents of an `oci` pool (agents/
// oci-runner.ts) into an image pushed to the candidate registry. Versions are
// ordered like Debian versions (the tags carry them). An OCI build's release
// artifact is the image itself, named by BuildResult.image; no files are released.
// A package of several architectures is built once per architecture and released
// as one image index (reconciler/release-targets/registry/version-images.ts).
import type { BuildResult } from '../../../schema/messages.ts';
import type { OciPackage } from '../../model.ts';
import { compareDebianVersions } from '../deb/version-order.ts';
import { debianVersionProblem } from '../deb/debian-version.ts';
import type { PackageFormat } from '../format.ts';

export const ociFormat: PackageFormat<OciPackage> = {
  name: 'oci',
  versionLabel: 'image version',
  // A `from:` naming another Kiln package or a tag is the digest the planner resolved (the base's build,
  // the tag as observed: plan/base-image.ts); until it is resolved the recipe has no base and is never dispatched.
  recipe: (pkg, context) => {
    const from = pkg.from && 'image' in pkg.from ? pkg.from.image : context?.base;
    return {
      format: 'oci',
      rebuild: pkg.rebuild,
      oci: { dockerfile: pkg.dockerfile, context: pkg.context, repository: pkg.name, ...(from ? { from } : {}), ...(pkg.install?.length ? { install: [...pkg.install] } : {}) },
    };
  },
  compareVersions: compareDebianVersions,
  versionProblem: debianVersionProblem,
  isReleasable: (name) => name === 'image.json',
  // Each architecture's build has its own image.json: the one its build recorded.
  artifactsForArch: (artifacts, _arch, own) => artifacts.filter((a) => a.name === 'image.json' && (!own || (a.sha256 !== undefined && own.has(a.sha256)))),
  async artifactProblems(result: BuildResult) {
    return result.image ? [] : ['the build reported no image (BuildResult.image)'];
  },
};
