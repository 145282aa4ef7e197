// The spec check as `kiln validate` and `kiln check` run it: rpm in a container
// of the package's build image on this host's Docker engine. Where it cannot run
// (no engine, no image, a source that cannot be fetched now) each rpm package
// gets a warning naming why and the command's verdict does not change: the
// reconciler and the agent check the same before anything is built.
import { dockerClient } from '../../containers/docker-client.ts';
import { specCheckerFor, uncheckedWhenUnreachable, type SpecChecker } from '../desired/spec-check.ts';

export function localSpecChecker(): SpecChecker {
  return uncheckedWhenUnreachable(specCheckerFor(dockerClient()));
}
